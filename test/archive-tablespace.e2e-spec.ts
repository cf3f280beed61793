import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { ArchiveService } from '../src/archive/archive.service';
import { maintainNow, monthStart, partitionName, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { TEST_ADMIN_URL } from './support/env';
import { startTestApp } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

/**
 * A tablespace needs a directory the Postgres server owns, so this runs only where the server is on this
 * machine and the tests run as root (the suite's usual set-up); elsewhere it is skipped, saying so.
 */
const host = new URL(TEST_ADMIN_URL).hostname;
const local = ['127.0.0.1', 'localhost', '::1'].includes(host) && process.getuid?.() === 0;
const postgresUser = (() => {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
    };
  } catch {
    return null;
  }
})();

(local && postgresUser ? describe : describe.skip)('warm partitions on ARCHIVE_WARM_TABLESPACE', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;
  let archiveDir: string;
  const tablespace = `audit_warm_test_${process.pid}`;
  const admin = () => new Client({ connectionString: TEST_ADMIN_URL });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-tablespace-'));
    chownSync(dir, postgresUser!.uid, postgresUser!.gid);
    archiveDir = mkdtempSync(join(tmpdir(), 'audit-archive-ts-'));
    const client = admin();
    await client.connect();
    await client.query(`CREATE TABLESPACE "${tablespace}" LOCATION '${dir}'`);
    await client.end();
    db = await createTestDatabase();
    app = await startTestApp(db.url, {
      ARCHIVE_URL: pathToFileURL(archiveDir).href,
      ARCHIVE_WARM_TABLESPACE: tablespace,
    });
    await waitForMaintenanceIdle(db);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    const client = admin();
    await client.connect();
    await client.query(`DROP TABLESPACE IF EXISTS "${tablespace}"`);
    await client.end();
    rmSync(dir, { recursive: true, force: true });
    rmSync(archiveDir, { recursive: true, force: true });
  });

  it('moves a partition and its indexes to the tablespace when it turns warm; it stays readable', async () => {
    await recordMonths(app, -5, -5, 8);
    await maintainNow(app);
    const partition = partitionName(monthStart(-5));
    const report = (await app.get(ArchiveService).run())!;
    expect(report.warmed).toEqual([partition]);
    const { rows } = await db.sql.query(
      `SELECT c.relname, t.spcname FROM pg_class c LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
        WHERE c.oid = $1::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass)`,
      [partition],
    );
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) expect(row.spcname).toBe(tablespace);
    expect(
      (await db.sql.query(`SELECT count(*)::int AS n FROM audit_events_all`)).rows[0].n,
    ).toBeGreaterThanOrEqual(8);
  });
});
