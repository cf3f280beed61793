import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { INestApplication } from '@nestjs/common';
import S3rver from 's3rver';
import request from 'supertest';
import { ArchiveCheckpoint, ArchiveService } from '../src/archive/archive.service';
import { ArchiveManifest } from '../src/archive/archive-manifest';
import { maintainNow, monthStart, partitionName, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { freePort } from './support/process';
import { startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'nest-audit-trail.js');
const run = promisify(execFile);
const BUCKET = 'audit-archive';
const PREFIX = 'trail/parquet';

/**
 * Parquet archives on a real S3-compatible server (s3rver): the files go up through the archive storage, the
 * read-back, restore and `query-archive` (the built bin) download them again (DuckDB's httpfs is not used),
 * and an object replaced in the bucket is refused.
 */
describe('Parquet archives on S3 (s3rver)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let server: S3rver;
  let dir: string;
  let s3: S3Client;
  let endpoint: string;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  const env = () => ({
    ARCHIVE_URL: `s3://${BUCKET}/${PREFIX}`,
    ARCHIVE_S3_ENDPOINT: endpoint,
    ARCHIVE_S3_FORCE_PATH_STYLE: 'true',
    ARCHIVE_FORMAT: 'parquet',
  });

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`build the bin first: npx tsc -p tsconfig.build.json (${CLI})`);
    dir = mkdtempSync(join(tmpdir(), 's3rver-parquet-'));
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
    app = await startTestApp(db.url, env());
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

  it('archives to S3, queries and restores from it, and refuses a replaced object', async () => {
    const month = monthStart(-15);
    const a = await recordMonths(app, -15, -15, 150, 'org-a');
    const b = await recordMonths(app, -15, -15, 50, 'org-b');
    await maintainNow(app);
    // A run killed after the files went up, before the manifest: the next one exports again under the same
    // keys (deterministic names), leaving no stray object.
    jest.spyOn(app.get(ArchiveService), 'checkpoint').mockImplementation(async (step: ArchiveCheckpoint) => {
      if (step === 'uploaded') throw new Error('simulated crash at uploaded');
    });
    await expect(app.get(ArchiveService).run()).rejects.toThrow('simulated crash at uploaded');
    jest.restoreAllMocks();
    const report = (await app.get(ArchiveService).run())!;
    expect(report.archived).toEqual([
      expect.objectContaining({ partition: partitionName(month), rows: 200, resumed: true }),
    ]);
    const [archive] = await app.get(ArchiveService).list();
    expect(archive).toMatchObject({ state: 'cold', format: 'parquet', rowCount: 200 });

    const manifestObject = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/${archive.manifestKey}` }),
    );
    const manifest = JSON.parse(await manifestObject.Body!.transformToString()) as ArchiveManifest;
    expect(manifest.files.map((f) => [f.partition!.org, f.rows])).toEqual([
      ['org-a', 150],
      ['org-b', 50],
    ]);
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/${archive.partitionName}/` }),
    );
    expect((listed.Contents ?? []).map((o) => [o.Key, o.Size]).sort()).toEqual(
      [
        ...manifest.files.map((f) => [`${PREFIX}/${f.key}`, f.bytes]),
        [`${PREFIX}/${archive.manifestKey}`, expect.any(Number)],
      ].sort(),
    );

    const { stdout } = await run(
      process.execPath,
      [
        CLI,
        'query-archive',
        '--org',
        'org-b',
        '--from',
        month.toISOString(),
        '--to',
        monthStart(-14).toISOString(),
        '--actor',
        'actor-2',
        '--format',
        'ndjson',
      ],
      { env: { ...process.env, ...env(), DATABASE_URL: db.url, LOG_LEVEL: 'error' } },
    );
    const rows = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; actor_id: string });
    // recordMonths gives event i the actor actor-(i % 3).
    expect(rows.map((r) => r.id)).toEqual(b.filter((_id, i) => i % 3 === 2));

    const admin = await token({ sub: 'root', roles: ['audit:platform'] });
    const restored = await request(app.getHttpServer())
      .post(`/audit/archives/${archive.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(restored.body.rows).toBe(200);
    const back = await db.sql.query(`SELECT id::text FROM "${restored.body.table}"`);
    expect(back.rows.map((r) => r.id as string).sort()).toEqual([...a, ...b].sort());

    const file = manifest.files[1];
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${PREFIX}/${file.key}`,
        Body: Buffer.from('PAR1 not it'),
      }),
    );
    expect(await app.get(ArchiveService).verify(archive)).toBe(false);
    const refused = await request(app.getHttpServer())
      .post(`/audit/archives/${archive.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(422);
    expect(refused.body.code).toBe('ARCHIVE_TAMPERED');
  }, 60_000);
});
