import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { INestApplication } from '@nestjs/common';
import S3rver from 's3rver';
import request from 'supertest';
import { ArchiveService } from '../src/archive/archive.service';
import { maintainNow, monthStart, partitionName, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { freePort } from './support/process';
import { startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const BUCKET = 'audit-archive';

/** The archive on a real S3-compatible server (s3rver: an S3 API over a temp directory, on a free port). */
describe('archives on S3 (s3rver)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let server: S3rver;
  let dir: string;
  let s3: S3Client;
  let endpoint: string;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3rver-'));
    const port = await freePort();
    server = new S3rver({
      port,
      address: '127.0.0.1',
      directory: dir,
      silent: true,
      configureBuckets: [{ name: BUCKET }],
    });
    await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    // s3rver's fixed credentials, through the standard variables the SDK reads.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    db = await createTestDatabase();
    app = await startTestApp(db.url, {
      ARCHIVE_URL: `s3://${BUCKET}/trail/prod`,
      ARCHIVE_S3_ENDPOINT: endpoint,
      ARCHIVE_S3_FORCE_PATH_STYLE: 'true',
    });
    await waitForMaintenanceIdle(db);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    s3?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  it('exports, verifies and drops through S3, restores from it, and refuses a replaced object', async () => {
    await recordMonths(app, -15, -14, 1000);
    await maintainNow(app);
    const report = (await app.get(ArchiveService).run())!;
    expect(report.archived.map((a) => a.partition).sort()).toEqual(
      [partitionName(monthStart(-15)), partitionName(monthStart(-14))].sort(),
    );
    const [archive] = await app.get(ArchiveService).list();
    expect(archive).toMatchObject({ state: 'cold', rowCount: 1000, storageUrl: `s3://${BUCKET}/trail/prod` });

    const object = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `trail/prod/${archive.dataKey}` }),
    );
    expect(Number(object.ContentLength)).toBe(archive.byteSize);
    await object.Body!.transformToByteArray();
    const manifest = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `trail/prod/${archive.manifestKey}` }),
    );
    expect(JSON.parse(await manifest.Body!.transformToString())).toMatchObject({
      archiveId: archive.id,
      files: [{ sha256: archive.sha256, rows: 1000 }],
    });

    const admin = await token({ sub: 'root', roles: ['audit:platform'] });
    const restored = await request(app.getHttpServer())
      .post(`/audit/archives/${archive.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(restored.body.rows).toBe(1000);
    expect(
      (await db.sql.query(`SELECT count(DISTINCT id)::int AS n FROM "${restored.body.table}"`)).rows[0].n,
    ).toBe(1000);

    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `trail/prod/${archive.dataKey}`,
        Body: Buffer.from('not the archive'),
      }),
    );
    const refused = await request(app.getHttpServer())
      .post(`/audit/archives/${archive.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(422);
    expect(refused.body.code).toBe('ARCHIVE_TAMPERED');
  });

  it('streams a large archive as a multipart upload and verifies it', async () => {
    const month = monthStart(-20);
    // ~12 MB of gzip (random hex barely compresses): more than one 8 MiB part.
    await db.sql.query(
      `INSERT INTO audit_events (id, occurred_at, actor_type, action, event_type, status, severity, metadata)
       SELECT gen_random_uuid(), $1::timestamptz + i * interval '1 second', 'system', 'import', 'bulk.import', 'success', 'info',
              jsonb_build_object('blob', (SELECT string_agg(md5(random()::text || i || j), '') FROM generate_series(1, 25) j))
         FROM generate_series(1, 30000) i`,
      [month.toISOString()],
    );
    await maintainNow(app);
    const requests: string[] = [];
    const watch = (req: { method?: string; url?: string }) => requests.push(`${req.method} ${req.url}`);
    server.httpServer.on('request', watch);
    const report = (await app.get(ArchiveService).run())!;
    server.httpServer.off('request', watch);
    expect(report.archived).toEqual([
      expect.objectContaining({ partition: partitionName(month), rows: 30000 }),
    ]);
    const archive = (await app.get(ArchiveService).list()).find(
      (a) => a.partitionName === partitionName(month),
    )!;
    expect(archive.state).toBe('cold');
    expect(archive.byteSize).toBeGreaterThan(8 * 1024 * 1024);
    const object = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `trail/prod/${archive.dataKey}` }),
    );
    expect(Number(object.ContentLength)).toBe(archive.byteSize);
    await object.Body!.transformToByteArray();
    // The data file went up in parts (UploadPart is a PUT with partNumber and uploadId), then completed.
    const parts = requests.filter(
      (r) => r.startsWith('PUT') && r.includes(archive.dataKey) && r.includes('partNumber='),
    );
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(
      requests.some((r) => r.startsWith('POST') && r.includes(archive.dataKey) && r.includes('uploadId=')),
    ).toBe(true);
  });
});
