import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { INestApplication } from '@nestjs/common';
import { maintainNow, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { startTestApp } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'nest-audit-trail.js');
const run = promisify(execFile);

/** The package's bin (`npx nest-audit-trail ...`; `npm run audit -- ...` in the demo) as a real process. */
describe('npm run audit -- <command>', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;
  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        ARCHIVE_URL: pathToFileURL(dir).href,
        ARCHIVE_COMPRESSION: 'brotli',
        LOG_LEVEL: 'error',
      },
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
    app = await startTestApp(db.url, { ARCHIVE_URL: pathToFileURL(dir).href });
    await waitForMaintenanceIdle(db);
    await recordMonths(app, -14, -13, 10);
    await maintainNow(app);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists partitions, archives (dry run first, brotli) and restores', async () => {
    const partitions = JSON.parse((await cli('partitions', '--json', '--exact')).stdout);
    expect(partitions.find((p: { tier: string }) => p.tier === 'default')).toMatchObject({ rows: 0 });
    expect(partitions.filter((p: { rows: number }) => p.rows === 10)).toHaveLength(2);

    const dry = JSON.parse((await cli('archive', '--dry-run')).stdout);
    expect(dry.dryRun).toBe(true);
    expect(dry.archived).toHaveLength(2);
    expect((await db.sql.query('SELECT count(*)::int AS n FROM audit_archives')).rows[0].n).toBe(0);

    const report = JSON.parse((await cli('archive')).stdout.replace(/^[^{]*/, ''));
    expect(report.archived).toHaveLength(2);
    const [archive] = JSON.parse((await cli('archives')).stdout);
    expect(archive).toMatchObject({
      state: 'cold',
      compression: 'brotli',
      dataKey: expect.stringMatching(/\.ndjson\.br$/),
    });

    const verified = JSON.parse((await cli('restore', archive.id, '--dry-run')).stdout.replace(/^[^{]*/, ''));
    expect(verified).toMatchObject({ dryRun: true, rows: 10 });
    const restored = JSON.parse((await cli('restore', archive.id)).stdout.replace(/^[^{]*/, ''));
    expect(restored).toMatchObject({ archiveId: archive.id, rows: 10 });
    expect((await db.sql.query(`SELECT count(*)::int AS n FROM "${restored.table}"`)).rows[0].n).toBe(10);

    await expect(cli('restore', '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('not found'),
    });
  }, 120_000); // five CLI processes, each loading Nest and TypeORM (seconds on a busy 2-core machine)
});
