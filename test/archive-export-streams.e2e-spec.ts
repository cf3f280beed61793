import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { ArchiveCompression, decompressor } from '../src/archive/archive-codec';
import { exportTable, STALE_SPOOL_MS, sweepStaleSpools } from '../src/archive/archive-export';
import { ArchiveRepository } from '../src/archive/archive.repository';
import { ArchiveTransferRepository } from '../src/archive/archive-transfer.repository';
import { ArchiveService } from '../src/archive/archive.service';
import { RestoreService } from '../src/archive/restore.service';
import { ARCHIVE_STORAGE } from '../src/archive/archive.tokens';
import { ArchiveStorage } from '../src/archive/storage/archive-storage';
import { AuditService } from '../src/audit';
import { maintainNow, monthStart, partitionName } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { startTestApp } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

/**
 * ARCHIVE_EXPORT_STREAMS: a partition read by several connections at once, in consecutive slices of one
 * snapshot, makes the same file content as one connection does.
 */
describe('archive export in several streams', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;
  let spoolDir: string;
  const table = partitionName(monthStart(-15));

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-streams-'));
    spoolDir = mkdtempSync(join(tmpdir(), 'audit-streams-spool-'));
    app = await startTestApp(db.url, {
      ARCHIVE_URL: pathToFileURL(dir).href,
      ARCHIVE_COMPRESSION: 'zstd',
      ARCHIVE_EXPORT_STREAMS: '3',
      ARCHIVE_SPOOL_DIR: spoolDir,
    });
    await waitForMaintenanceIdle(db);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(spoolDir, { recursive: true, force: true });
  });

  /** Events of several resources (some without type or id: NULLs sort last) in month -15. */
  async function record(count: number, salt: string): Promise<void> {
    const audit = app.get(AuditService);
    const start = monthStart(-15).getTime();
    for (let i = 0; i < count; i++) {
      audit.record({
        action: 'update',
        resourceType: i % 7 === 0 ? undefined : ['contract', 'invoice'][i % 2],
        resourceId: i % 5 === 0 ? undefined : `r-${i % 13}`,
        actor: { id: `actor-${i % 3}`, organizationId: 'org-streams', type: 'user' },
        after: { n: i, salt, note: 'tab\there "quoted" \\ back' },
        occurredAt: new Date(start + 3_600_000 + ((i * 7919) % count) * 1000),
      });
    }
    if (!(await app.get(AuditService).flush(10_000))) throw new Error('audit buffer did not drain');
  }

  async function exportText(
    compression: ArchiveCompression,
    streams: number,
  ): Promise<{ rows: number; text: string }> {
    const repository = app.get(ArchiveRepository);
    const storage = app.get<ArchiveStorage>(ARCHIVE_STORAGE);
    const key = `test/${compression}-${streams}`;
    const stored = await exportTable(
      app.get(ArchiveTransferRepository),
      table,
      await repository.columns(table),
      storage.upload(key),
      {
        compression,
        streams,
        spoolDir,
      },
    );
    const chunks: Buffer[] = [];
    for await (const chunk of (await storage.download(key)).pipe(decompressor(compression)))
      chunks.push(chunk as Buffer);
    await storage.delete(key);
    return { rows: stored.rows, text: Buffer.concat(chunks).toString() };
  }

  /** Ids in archive order, as Postgres sorts them. */
  async function idsInRowOrder(): Promise<string[]> {
    const { rows } = await db.sql.query(
      `SELECT id::text FROM "${table}" ORDER BY resource_type, resource_id, occurred_at, id`,
    );
    return rows.map((r) => r.id as string);
  }

  const idsOf = (text: string) =>
    text
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as string[])[0]);

  it('writes every row once, in the archive order, the same bytes as one stream, for gzip and zstd', async () => {
    await record(700, 'first');
    await maintainNow(app);
    // The estimate the slices are cut from: taken here, and kept (stale) for the next test.
    await db.sql.query(`ALTER TABLE "${table}" SET (autovacuum_enabled = off)`);
    await db.sql.query(`ANALYZE "${table}"`);
    const expected = await idsInRowOrder();
    expect(expected).toHaveLength(700);

    for (const compression of ['gzip', 'zstd'] as const) {
      const one = await exportText(compression, 1);
      expect(one.rows).toBe(700);
      expect(idsOf(one.text)).toEqual(expected);
      for (const streams of [2, 3]) {
        const many = await exportText(compression, streams);
        expect(many.rows).toBe(700);
        expect(many.text).toBe(one.text);
      }
    }
    // brotli streams do not concatenate: it exports with one, whatever is asked.
    const brotli = await exportText('brotli', 3);
    expect(idsOf(brotli.text)).toEqual(expected);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('exports every row when the row estimate is stale (more rows than the slices were cut for)', async () => {
    await record(500, 'second');
    const expected = await idsInRowOrder();
    expect(expected).toHaveLength(1200);
    const { rows: estimate } = await db.sql.query(`SELECT reltuples FROM pg_class WHERE relname = $1`, [
      table,
    ]);
    expect(Number(estimate[0].reltuples)).toBe(700);

    const many = await exportText('zstd', 3);
    expect(many.rows).toBe(1200);
    expect(idsOf(many.text)).toEqual(expected);
  });

  it('an empty table exports as an empty file that decodes to nothing, in several streams', async () => {
    await db.sql.query(`CREATE TABLE audit_streams_empty (LIKE "${table}" INCLUDING INDEXES)`);
    const repository = app.get(ArchiveRepository);
    const storage = app.get<ArchiveStorage>(ARCHIVE_STORAGE);
    for (const compression of ['gzip', 'zstd'] as const) {
      const key = `test/empty-${compression}`;
      const stored = await exportTable(
        app.get(ArchiveTransferRepository),
        'audit_streams_empty',
        await repository.columns('audit_streams_empty'),
        storage.upload(key),
        { compression, streams: 3, spoolDir },
      );
      expect(stored.rows).toBe(0);
      let decoded = 0;
      for await (const chunk of (await storage.download(key)).pipe(decompressor(compression)))
        decoded += (chunk as Buffer).length;
      expect(decoded).toBe(0);
    }
  });

  // The first slice streams to the store; the second is spooled while the first runs.
  it.each([
    ['the first slice', `query LIKE 'COPY %OFFSET 0 LIMIT %'`],
    ['a spooled slice', `query LIKE 'COPY %OFFSET %LIMIT %' AND query NOT LIKE '%OFFSET 0 %'`],
  ])('%s failing fails the whole export: nothing is stored, no spool is left', async (_slice, which) => {
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    try {
      // Every slice's COPY waits on this lock, so one of them can be killed mid-export.
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
      const repository = app.get(ArchiveRepository);
      const storage = app.get<ArchiveStorage>(ARCHIVE_STORAGE);
      const exporting = exportTable(
        app.get(ArchiveTransferRepository),
        table,
        await repository.columns(table),
        storage.upload('test/killed'),
        {
          compression: 'zstd',
          streams: 3,
          spoolDir,
        },
      );
      const outcome = exporting.then(
        () => null,
        (error: Error) => error,
      );
      let pid: number | undefined;
      for (let attempt = 0; attempt < 200 && pid === undefined; attempt++) {
        const { rows } = await db.sql.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND ${which}`,
        );
        if (rows.length > 0) pid = rows[0].pid as number;
        else await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(pid).toBeDefined();
      await db.sql.query('SELECT pg_terminate_backend($1)', [pid]);
      await locker.query('ROLLBACK');

      const error = await outcome;
      expect(error?.message).toMatch(/terminat|Connection terminated/i);
      await expect(storage.download('test/killed')).rejects.toThrow();
      expect(readdirSync(spoolDir)).toEqual([]);
    } finally {
      await locker.end();
    }
    // The pool discarded the broken connections: the next export works.
    expect((await exportText('zstd', 3)).rows).toBe(1200);
  });

  it('finds the spools left by killed exports (a day old) and removes them, not a fresh one', async () => {
    const stale = join(spoolDir, 'audit-archive-killed');
    const running = join(spoolDir, 'audit-archive-running'); // made a day ago, its slice still written to
    const fresh = join(spoolDir, 'audit-archive-fresh');
    const unrelated = join(spoolDir, 'something-else');
    for (const path of [stale, running, fresh, unrelated]) mkdirSync(path);
    const dayAgo = new Date(Date.now() - STALE_SPOOL_MS - 60_000);
    writeFileSync(join(stale, 'slice-1'), 'compressed bytes of a killed export');
    utimesSync(join(stale, 'slice-1'), dayAgo, dayAgo);
    writeFileSync(join(running, 'slice-1'), 'compressed bytes of a long export');
    for (const path of [stale, running, unrelated]) utimesSync(path, dayAgo, dayAgo);

    expect(await sweepStaleSpools(spoolDir)).toEqual(['audit-archive-killed']);
    expect(readdirSync(spoolDir).sort()).toEqual([
      'audit-archive-fresh',
      'audit-archive-running',
      'something-else',
    ]);
    for (const path of [running, fresh, unrelated]) rmSync(path, { recursive: true });
  });

  it('an archive run in 3 streams stores a file that verifies and restores every row', async () => {
    const expected = await idsInRowOrder();
    // A killed export's spool, which the run sweeps away first.
    const stale = join(spoolDir, 'audit-archive-left');
    mkdirSync(stale);
    const dayAgo = new Date(Date.now() - STALE_SPOOL_MS - 60_000);
    utimesSync(stale, dayAgo, dayAgo);
    const report = (await app.get(ArchiveService).run())!;
    expect(report.archived).toEqual([expect.objectContaining({ partition: table, rows: expected.length })]);
    const [archive] = await app.get(ArchiveService).list();
    expect(archive).toMatchObject({ state: 'cold', rowCount: expected.length });
    const restored = await app.get(RestoreService).restore(archive.id);
    const { rows } = await db.sql.query(
      `SELECT id::text FROM "${restored.table}" ORDER BY resource_type, resource_id, occurred_at, id`,
    );
    expect(rows.map((r) => r.id as string)).toEqual(expected);
    expect(readdirSync(spoolDir)).toEqual([]);
  });
});
