import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { INestApplication } from '@nestjs/common';
import S3rver from 's3rver';
import request from 'supertest';
import { ArchiveService } from 'src/archive/archive.service';
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

    const admin = await token({ sub: 'root', roles: ['audit:admin'] });
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
});
