import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ArchiveService } from '../src/archive/archive.service';
import { ArchiveManifest } from '../src/archive/archive-manifest';
import { AuditService } from '../src/audit';
import { parsePublicKey } from '../src/common/crypto/ed25519-keys';
import { CheckpointSigner } from '../src/integrity';
import { verifyArchive } from '../src/integrity/archive-verifier';
import { keyIdOf } from '../src/integrity/checkpoint-statement';
import { maintainNow, monthStart, partitionName } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'nest-audit-trail.js');
const run = promisify(execFile);
const MONTH = -15;
const ACTIONS = ['create', 'update', 'delete'] as const;

/** Every column of the archived rows as Postgres renders them (the reference for restore). */
type Snapshot = Map<string, { after: string | null; hash: string; row: Record<string, unknown> }>;

/** Runs DuckDB SQL on the archive's files, as any user of the files would. */
async function duck<T>(sql: string, values: Record<string, string> = {}): Promise<T[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    return (await connection.runAndReadAll(sql, values)).getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * ARCHIVE_FORMAT=parquet end to end on a file store: a month of three organizations' events (one without
 * organization, personal fields encrypted at capture) archived as typed Parquet files per organization and
 * month, listed with their digests in the signed manifest; DuckDB reads them; `query-archive` (the built bin,
 * a real process) filters them; restore gives back the same rows; a replaced file is refused everywhere.
 */
describe('Parquet archives (ARCHIVE_FORMAT=parquet)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;
  let manifest: ArchiveManifest;
  let archiveId: string;
  let snapshot: Snapshot;
  const expected: Array<{
    id: string;
    org: string | null;
    action: string;
    actor: string;
    type: string;
    rid: string;
  }> = [];
  const start = monthStart(MONTH);
  const month = start.toISOString().slice(0, 7);
  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, ARCHIVE_URL: pathToFileURL(dir).href, LOG_LEVEL: 'error' },
    });
  const keys = () => {
    const key = parsePublicKey(app.get(CheckpointSigner).describe()[0].publicKeyPem);
    return new Map([[keyIdOf(key), key]]);
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`build the bin first: npx tsc -p tsconfig.build.json (${CLI})`);
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-parquet-'));
    app = await startTestApp(db.url, {
      ARCHIVE_URL: pathToFileURL(dir).href,
      ARCHIVE_FORMAT: 'parquet',
      // Month -15 ended 14 months ago: expired by the run after the one that archives it (last test).
      ARCHIVE_RETENTION_DAYS: '400',
    });
    await waitForMaintenanceIdle(db);
    const audit = app.get(AuditService);
    const orgs: Array<[string | null, number]> = [
      ['org-a', 60],
      ['org-b', 40],
      [null, 6],
    ];
    for (const [org, count] of orgs)
      for (let i = 0; i < count; i++) {
        const action = ACTIONS[i % 3];
        const type = i % 2 === 0 ? 'contract' : 'invoice';
        const actor = org ? `actor-${i % 4}` : 'scheduler';
        const event = audit.record({
          action,
          resourceType: type,
          resourceId: `r-${i % 5}`,
          actor: org ? { id: actor, organizationId: org, type: 'user' } : { id: actor, type: 'system' },
          // customerEmail is personal data: stored encrypted, and archived as stored.
          after: {
            title: `event ${i} "quoted" \\ back`,
            customerEmail: `person${i}@example.com`,
            amount: 1.5,
          },
          errorMessage: i % 7 === 0 ? 'first line\nsecond line, with "quotes"' : undefined,
          ip: '10.1.2.3',
          metadata: { n: i, nested: { ok: true } },
          occurredAt: new Date(start.getTime() + 3_600_000 + i * 60_000),
        });
        expected.push({ id: event!.id, org, action, actor, type, rid: `r-${i % 5}` });
      }
    if (!(await audit.flush(10_000))) throw new Error('audit buffer did not drain');
    await maintainNow(app);
    const { rows } = await db.sql.query(
      `SELECT id::text AS id, after::text AS after, encode(event_hash, 'hex') AS hash, to_jsonb(t) AS row
         FROM audit_events t WHERE occurred_at >= $1 AND occurred_at < $2`,
      [start, monthStart(MONTH + 1)],
    );
    snapshot = new Map(rows.map((r) => [r.id as string, r]));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('archives the month as typed Parquet files per organization, listed with digests in the signed manifest', async () => {
    expect(snapshot.size).toBe(106);
    const report = (await app.get(ArchiveService).run())!;
    expect(report.archived).toEqual([
      expect.objectContaining({ partition: partitionName(start), rows: 106 }),
    ]);
    const [archive] = await app.get(ArchiveService).list();
    expect(archive).toMatchObject({ state: 'cold', format: 'parquet', compression: 'zstd', rowCount: 106 });
    expect(archive.dataKey).toMatch(/\/parquet$/);
    archiveId = archive.id;
    manifest = JSON.parse(readFileSync(join(dir, archive.manifestKey), 'utf8')) as ArchiveManifest;
    expect(manifest).toMatchObject({ schemaVersion: 2, rowEncoding: 'parquet', rowCount: 106 });
    expect(manifest.integrity).toHaveProperty('manifestSignature');
    expect(manifest.files.map((f) => [f.partition!.org, f.partition!.month, f.rows])).toEqual([
      [null, month, 6],
      ['org-a', month, 60],
      ['org-b', month, 40],
    ]);
    for (const file of manifest.files) {
      expect(file.key).toMatch(
        new RegExp(
          `^${archive.dataKey}/org=(org-a|org-b|__HIVE_DEFAULT_PARTITION__)/month=${month}/part-0\\.parquet$`,
        ),
      );
      const bytes = readFileSync(join(dir, file.key));
      expect(file).toMatchObject({ format: 'parquet', bytes: bytes.length });
      expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    // The table's record holds the digest of the file list, the manifest the same list.
    expect(archive.sha256).toBe(manifest.parquet!.filesSha256);
    expect(archive.byteSize).toBe(manifest.files.reduce((sum, f) => sum + f.bytes, 0));
    expect(await app.get(ArchiveService).verify(archive)).toBe(true);
  });

  it('the files open with DuckDB: typed columns, row counts, personal fields encrypted as stored', async () => {
    const glob = join(dir, manifest.parquet!.root, '**', '*.parquet');
    const described = await duck<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM read_parquet($glob, hive_partitioning = false)`,
      { glob },
    );
    const types = Object.fromEntries(described.map((c) => [c.column_name, c.column_type]));
    expect(types).toMatchObject({
      id: 'UUID',
      occurred_at: 'TIMESTAMP WITH TIME ZONE',
      recorded_at: 'TIMESTAMP WITH TIME ZONE',
      organization_id: 'VARCHAR',
      before: 'VARCHAR',
      after: 'VARCHAR',
      changes: 'VARCHAR',
      metadata: 'VARCHAR',
      status_code: 'SMALLINT',
      duration_ms: 'INTEGER',
      event_hash: 'BLOB',
      batch_id: 'UUID',
    });
    expect(Object.keys(types)).toEqual(manifest.columns.map((c) => c.name));

    const counts = await duck<{ org: string | null; n: bigint }>(
      `SELECT org, count(*) AS n FROM read_parquet($glob, hive_partitioning = true) GROUP BY org ORDER BY org NULLS FIRST`,
      { glob },
    );
    expect(counts.map((c) => [c.org, Number(c.n)])).toEqual([
      [null, 6],
      ['org-a', 60],
      ['org-b', 40],
    ]);

    const stored = await duck<{ id: string; after: string; error_message: string | null; occurred_at: Date }>(
      `SELECT CAST(id AS VARCHAR) AS id, after, error_message, occurred_at FROM read_parquet($glob)`,
      { glob },
    );
    expect(stored).toHaveLength(106);
    for (const row of stored) {
      const original = snapshot.get(row.id)!;
      // Exactly the stored text: the encrypted personal value included, no plaintext e-mail anywhere.
      expect(row.after).toBe(original.after);
      expect(row.after).not.toContain('example.com');
      expect(row.error_message).toBe(original.row.error_message);
      expect(row.occurred_at.getTime()).toBe(new Date(original.row.occurred_at as string).getTime());
    }
    expect(JSON.parse(stored[0].after).customerEmail).not.toMatch(/@/);
  });

  it('verifies offline (npm run integrity -- verify-archive) with the folder, the manifest and the public key', async () => {
    const result = await verifyArchive(
      join(dir, manifest.parquet!.root),
      readFileSync(join(dir, `${manifest.parquet!.root.replace(/\/parquet$/, '')}/manifest.json`), 'utf8'),
      keys(),
    );
    expect(result).toMatchObject({ ok: true, checkedEvents: 106, firstBroken: null });
    expect(result.file).toMatchObject({ rows: 106, sha256: manifest.parquet!.filesSha256 });
  });

  it('query-archive (the built bin) returns the filtered rows from the files', async () => {
    const range = ['--from', start.toISOString(), '--to', monthStart(MONTH + 1).toISOString()];
    const ndjson = async (...args: string[]) =>
      (await cli('query-archive', ...range, '--format', 'ndjson', ...args)).stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const ids = (filter: (e: (typeof expected)[number]) => boolean) =>
      expected.filter(filter).map((e) => e.id);

    // NDJSON: every column, JSON columns as JSON. org-b has the same resource ids: the org filter matters.
    const all = await ndjson('--org', 'org-a', '--resource-id', 'r-3');
    expect(all.map((r) => r.id)).toEqual(ids((e) => e.org === 'org-a' && e.rid === 'r-3'));
    expect(all).toHaveLength(12);
    expect(all[0]).toMatchObject({ organization_id: 'org-a', metadata: { n: 3, nested: { ok: true } } });
    // The personal field as stored (encrypted).
    expect(JSON.stringify(all[0].after)).not.toContain('example.com');
    const occurred = snapshot.get(all[0].id as string)!.row.occurred_at as string;
    expect(all[0].occurred_at).toBe(new Date(occurred).toISOString().replace('Z', '000Z'));

    // CSV, the other filters and a limit.
    const csv = await cli(
      'query-archive',
      '--org',
      'org-b',
      ...range,
      '--action',
      'delete',
      '--actor',
      'actor-1',
      '--resource-type',
      'invoice',
      '--format',
      'csv',
      '--limit',
      '2',
    );
    const header = csv.stdout.slice(0, csv.stdout.indexOf('\n')).split(',');
    expect(header).toEqual(manifest.columns.map((c) => c.name));
    const matching = ids(
      (e) => e.org === 'org-b' && e.action === 'delete' && e.actor === 'actor-1' && e.type === 'invoice',
    );
    expect(matching).toHaveLength(3);
    expect(matching.filter((id) => csv.stdout.includes(id))).toEqual(matching.slice(0, 2));

    // --org "": the events recorded without an organization.
    const orphans = await ndjson('--org', '');
    expect(orphans.map((r) => r.id)).toEqual(ids((e) => e.org === null));
    expect(orphans[0]).toMatchObject({ organization_id: null, actor_type: 'system' });

    const bad = await cli(
      'query-archive',
      '--org',
      'org-a',
      '--from',
      'yesterday',
      '--to',
      '2020-01-01',
      '--format',
      'xml',
    ).catch((error: { code: number; stderr: string }) => error);
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr).toContain('--from must be an ISO 8601 date');
    expect((bad as { stderr: string }).stderr).toContain('--format must be ndjson, csv or table');
  }, 60_000);

  it('restores the archive: the same rows, the same event hashes', async () => {
    const admin = await token({ sub: 'root', roles: ['audit:platform'] });
    const restored = await request(app.getHttpServer())
      .post(`/audit/archives/${archiveId}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(restored.body.rows).toBe(106);
    const listed = await request(app.getHttpServer())
      .get('/audit/archives')
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(listed.body).toEqual([expect.objectContaining({ id: archiveId, format: 'parquet', rows: 106 })]);
    const { rows } = await db.sql.query(
      `SELECT id::text AS id, encode(event_hash, 'hex') AS hash, to_jsonb(t) AS row FROM "${restored.body.table}" t`,
    );
    expect(rows).toHaveLength(106);
    for (const row of rows) {
      const original = snapshot.get(row.id as string)!;
      expect(row.hash).toBe(original.hash);
      expect(row.row).toEqual(original.row);
    }
  });

  it('a replaced Parquet file is refused by verification, restore, verify-archive and query-archive', async () => {
    const file = manifest.files.find((f) => f.partition!.org === 'org-a')!;
    const path = join(dir, file.key);
    // A valid Parquet file, same schema, one action edited.
    const edited = join(dir, 'edited.parquet');
    await duck(
      `COPY (SELECT * REPLACE (CASE WHEN action = 'delete' THEN 'update' ELSE action END AS action)
               FROM read_parquet($path)) TO '${edited}' (FORMAT parquet, COMPRESSION zstd)`,
      { path },
    );
    writeFileSync(path, readFileSync(edited));
    rmSync(edited);

    const [archive] = await app.get(ArchiveService).list();
    expect(await app.get(ArchiveService).verify(archive)).toBe(false);
    const admin = await token({ sub: 'root', roles: ['audit:platform'] });
    const refused = await request(app.getHttpServer())
      .post(`/audit/archives/${archiveId}/restore?dryRun=true`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(422);
    expect(refused.body.code).toBe('ARCHIVE_TAMPERED');

    const offline = await verifyArchive(
      join(dir, manifest.parquet!.root),
      readFileSync(join(dir, archive.manifestKey), 'utf8'),
      keys(),
    );
    expect(offline.ok).toBe(false);
    expect(offline.firstBroken).toMatchObject({ kind: 'file', id: file.key });

    const query = await cli(
      'query-archive',
      '--org',
      'org-a',
      '--from',
      start.toISOString(),
      '--to',
      monthStart(MONTH + 1).toISOString(),
    ).catch((error: { code: number; stderr: string }) => error);
    expect(query).toMatchObject({ code: 1 });
    expect((query as { stderr: string }).stderr).toMatch(/does not match its checksum; refused/);
  }, 30_000);

  it('expiry deletes every file the manifest lists, and the manifest', async () => {
    const report = (await app.get(ArchiveService).run())!;
    expect(report.expired).toEqual([{ partition: partitionName(start), archiveId }]);
    for (const file of manifest.files) expect(existsSync(join(dir, file.key))).toBe(false);
    expect(existsSync(join(dir, `${manifest.parquet!.root.replace(/\/parquet$/, '')}/manifest.json`))).toBe(
      false,
    );
  });
});
