import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { ArchiveCheckpoint, ArchiveService } from '../src/archive/archive.service';
import { RestoreService } from '../src/archive/restore.service';
import { PartitionService } from '../src/partitions/partition.service';
import { childrenOf, maintainNow, monthStart, partitionName, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { startTestApp } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

/** Makes the archive run stop dead at `step`, as a killed process would (nothing after it runs). */
function crashAt(app: INestApplication, step: ArchiveCheckpoint) {
  return jest
    .spyOn(app.get(ArchiveService), 'checkpoint')
    .mockImplementation(async (reached: ArchiveCheckpoint) => {
      if (reached === step) throw new Error(`simulated crash at ${step}`);
    });
}

const archivesOf = async (db: TestDatabase, partition: string) =>
  (
    await db.sql.query(
      `SELECT id, state, row_count::int AS rows FROM audit_archives WHERE partition_name = $1 ORDER BY created_at`,
      [partition],
    )
  ).rows;

describe('archive runs: crash safety and concurrent instances', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let other: INestApplication;
  let dir: string;
  const tableExists = async (name: string) =>
    (await db.sql.query('SELECT to_regclass($1) IS NOT NULL AS found', [name])).rows[0].found as boolean;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-archive-crash-'));
    const env = { ARCHIVE_URL: pathToFileURL(dir).href };
    app = await startTestApp(db.url, env);
    other = await startTestApp(db.url, env); // a second replica on the same database and archive
    await waitForMaintenanceIdle(db);
    await recordMonths(app, -18, -13, 25);
    await maintainNow(app);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => {
    await other?.close();
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a crash between export and drop: the next run verifies the stored copy and drops the table', async () => {
    const partition = partitionName(monthStart(-18));
    crashAt(app, 'exported');
    await expect(app.get(ArchiveService).run()).rejects.toThrow('simulated crash at exported');
    // Exported, not dropped: the table is intact and still readable.
    expect(await archivesOf(db, partition)).toEqual([
      expect.objectContaining({ state: 'exported', rows: 25 }),
    ]);
    expect(await tableExists(partition)).toBe(true);
    expect((await db.sql.query(`SELECT count(*)::int AS n FROM "${partition}"`)).rows[0].n).toBe(25);
    const { rows: runs } = await db.sql.query(
      `SELECT outcome, error FROM audit_lifecycle_runs WHERE job = 'archive' ORDER BY id DESC LIMIT 1`,
    );
    expect(runs[0]).toEqual({ outcome: 'failure', error: 'simulated crash at exported' });

    jest.restoreAllMocks();
    const report = (await app.get(ArchiveService).run())!;
    expect(report.archived.find((a) => a.partition === partition)).toMatchObject({ resumed: true, rows: 25 });
    expect(await archivesOf(db, partition)).toEqual([expect.objectContaining({ state: 'cold', rows: 25 })]);
    expect(await tableExists(partition)).toBe(false);
    // Exactly one data file and one manifest for it: resuming did not export a second copy.
    const [archive] = await archivesOf(db, partition);
    expect(readdirSync(join(dir, partition))).toEqual([archive.id]);
    const restored = await app.get(RestoreService).restore(archive.id);
    expect(restored.rows).toBe(25);
  });

  it('a crash after the data upload, before the manifest: the next run exports again under the same keys', async () => {
    await recordMonths(app, -30, -30, 7);
    await maintainNow(app);
    const partition = partitionName(monthStart(-30));
    crashAt(app, 'uploaded');
    await expect(app.get(ArchiveService).run()).rejects.toThrow('simulated crash at uploaded');
    expect(await archivesOf(db, partition)).toEqual([
      expect.objectContaining({ state: 'exporting', rows: null }),
    ]);
    expect(await tableExists(partition)).toBe(true);

    jest.restoreAllMocks();
    await app.get(ArchiveService).run();
    const archives = await archivesOf(db, partition);
    expect(archives).toEqual([expect.objectContaining({ state: 'cold', rows: 7 })]);
    expect(readdirSync(join(dir, partition, archives[0].id)).sort()).toEqual([
      'data.ndjson.gz',
      'manifest.json',
    ]);
    expect((await app.get(RestoreService).restore(archives[0].id)).rows).toBe(7);
  });

  it('a stored copy that does not verify is never followed by a drop', async () => {
    await recordMonths(app, -40, -40, 5);
    await maintainNow(app);
    const partition = partitionName(monthStart(-40));
    // The file is damaged between upload and read-back (a faulty store): verification must catch it.
    jest.spyOn(app.get(ArchiveService), 'checkpoint').mockImplementation(async (step) => {
      if (step !== 'exported') return;
      const [archive] = await archivesOf(db, partition);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, partition, archive.id, 'data.ndjson.gz'), 'garbage');
    });
    await expect(app.get(ArchiveService).run()).rejects.toThrow('did not verify');
    expect(await tableExists(partition)).toBe(true);
    expect(await archivesOf(db, partition)).toEqual([expect.objectContaining({ state: 'exporting' })]);
    jest.restoreAllMocks();
    await app.get(ArchiveService).run();
    expect(await archivesOf(db, partition)).toEqual([expect.objectContaining({ state: 'cold', rows: 5 })]);
    expect(await tableExists(partition)).toBe(false);
  });

  it('a row added to a warm partition after its export (a late DEFAULT move) is never dropped unarchived', async () => {
    await recordMonths(app, -45, -45, 6);
    await maintainNow(app);
    const partition = partitionName(monthStart(-45));
    jest.spyOn(app.get(ArchiveService), 'checkpoint').mockImplementation(async (step) => {
      if (step !== 'verified') return;
      await db.sql.query(
        `INSERT INTO audit_events_warm (id, occurred_at, actor_type, action, event_type, status, severity)
         VALUES (gen_random_uuid(), $1, 'system', 'late', 'late.event', 'success', 'info')`,
        [new Date(monthStart(-45).getTime() + 86_400_000)],
      );
    });
    const report = (await app.get(ArchiveService).run())!;
    expect(report.deferred).toEqual([{ partition, reason: expect.stringContaining('rows were added') }]);
    expect(await tableExists(partition)).toBe(true);
    jest.restoreAllMocks();
    await app.get(ArchiveService).run();
    expect(await archivesOf(db, partition)).toEqual([expect.objectContaining({ state: 'cold', rows: 7 })]);
  });

  it("the run's lock connection dies mid-run: nothing is dropped without the lock, the next run finishes", async () => {
    await recordMonths(app, -60, -60, 4);
    await maintainNow(app);
    const partition = partitionName(monthStart(-60));
    jest.spyOn(app.get(ArchiveService), 'checkpoint').mockImplementation(async (step) => {
      if (step !== 'verified') return;
      // As a Postgres restart or a network cut would: the session, and its advisory lock, end.
      const { rows } = await db.sql.query(
        `SELECT pg_terminate_backend(pid) AS done FROM pg_locks
          WHERE locktype = 'advisory' AND objid = 7331004 AND objsubid = 1 AND granted`,
      );
      expect(rows).toEqual([{ done: true }]);
    });
    await expect(app.get(ArchiveService).run()).rejects.toThrow('archive lock was lost');
    expect(await tableExists(partition)).toBe(true);
    expect(await archivesOf(db, partition)).toEqual([
      expect.objectContaining({ state: 'exported', rows: 4 }),
    ]);

    jest.restoreAllMocks();
    await app.get(ArchiveService).run();
    expect(await archivesOf(db, partition)).toEqual([expect.objectContaining({ state: 'cold', rows: 4 })]);
    expect(await tableExists(partition)).toBe(false);
  });

  it('a partition held by a long reader is not detached now (lock timeout), and is the next run', async () => {
    await recordMonths(app, -4, -4, 3);
    await maintainNow(app);
    const partition = partitionName(monthStart(-4));
    const reader = new Client({ connectionString: db.url });
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM "${partition}"`); // holds ACCESS SHARE until COMMIT
      const report = (await app.get(ArchiveService).run())!;
      expect(report.deferred).toEqual([{ partition, reason: expect.stringContaining('lock') }]);
      expect(await childrenOf(db, 'audit_events')).toContain(partition);
    } finally {
      await reader.query('COMMIT');
      await reader.end();
    }
    const report = (await app.get(ArchiveService).run())!;
    expect(report.warmed).toEqual([partition]);
    expect(await childrenOf(db, 'audit_events_warm')).toContain(partition);
  }, 30_000);

  it('two instances running archival and maintenance at once: one works, none fails, nothing doubles', async () => {
    await recordMonths(app, -17, -14, 0); // nothing new; months -17..-13 exist already
    await recordMonths(other, -50, -48, 9);
    const maintenance = await Promise.all([
      app.get(PartitionService).maintain(),
      other.get(PartitionService).maintain(),
    ]);
    expect(maintenance.filter((r) => r !== null)).toHaveLength(1);
    expect(maintenance.find((r) => r !== null)!.moved).toHaveLength(3);

    const runs = await Promise.all([app.get(ArchiveService).run(), other.get(ArchiveService).run()]);
    const worked = runs.filter((r) => r !== null && r.archived.length > 0);
    expect(worked).toHaveLength(1);
    // The loser either saw the lock taken (null, recorded as skipped) or ran after and found nothing to do.
    const loser = runs.find((r) => r !== worked[0]);
    if (loser) expect(loser.archived).toEqual([]);
    const { rows } = await db.sql.query(
      `SELECT partition_name, count(*)::int AS n, min(state) AS state FROM audit_archives GROUP BY 1 ORDER BY 1`,
    );
    for (const row of rows) expect(row).toMatchObject({ n: 1, state: 'cold' });
    expect(rows.map((r) => r.partition_name)).toEqual(
      expect.arrayContaining(
        [-50, -49, -48, -17, -16, -15, -14, -13].map((m) => partitionName(monthStart(m))),
      ),
    );
    expect(await childrenOf(db, 'audit_events_warm')).toEqual([partitionName(monthStart(-4))]);
    expect(
      (await db.sql.query(`SELECT count(*)::int AS n FROM audit_archives WHERE state <> 'cold'`)).rows[0].n,
    ).toBe(0);
  });
});
