import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ALL_MIGRATIONS } from '../demo/data-source-options';
import { runMigrations } from '../src/common/database/migrate';
import { createOwnDatabase, OwnPostgres, startOwnPostgres } from './support/own-services';

/**
 * `nest-audit-trail wal-setup`: the wal mode's database side made once by an admin, so the app's role needs no
 * ownership or replication rights (AuditWalModule with setup: false). Idempotent; a server without
 * wal_level=logical gets the message saying what to set, without a stack.
 */
const run = promisify(execFile);
const BIN = join(__dirname, '..', 'dist', 'src', 'cli', 'nest-audit-trail.js');
const cli = (url: string, ...args: string[]) =>
  run(process.execPath, [BIN, 'wal-setup', ...args], { env: { ...process.env, DATABASE_URL: url } });

describe('nest-audit-trail wal-setup', () => {
  let pg: OwnPostgres;
  let url: string;
  let sql: Client;

  beforeAll(async () => {
    pg = await startOwnPostgres({ logical: true });
    url = await createOwnDatabase(pg, 'wal_setup_cli');
    await runMigrations(url, { migrations: ALL_MIGRATIONS });
    sql = new Client({ connectionString: url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await pg?.destroy();
  });

  it('creates the publication, replica identity, session trigger and slot, and again changes nothing', async () => {
    const first = await cli(url, '--table', 'accounts');
    expect(JSON.parse(first.stdout)).toMatchObject({
      publication: 'nest_audit_wal',
      slot: 'nest_audit_wal',
      tables: ['accounts'],
      slotState: { walStatus: 'reserved' },
    });
    const state = async () =>
      (
        await sql.query(`
          SELECT (SELECT array_agg(tablename::text) FROM pg_publication_tables WHERE pubname = 'nest_audit_wal') AS published,
                 (SELECT relreplident FROM pg_class WHERE oid = 'accounts'::regclass) AS identity,
                 (SELECT count(*)::int FROM pg_trigger WHERE tgname = 'nest_audit_wal_session') AS triggers,
                 (SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'nest_audit_wal' AND plugin = 'pgoutput') AS slots`)
      ).rows[0];
    const after = await state();
    expect(after).toEqual({ published: ['accounts'], identity: 'f', triggers: 1, slots: 1 });
    await cli(url, '--table', 'public.accounts');
    expect(await state()).toEqual(after);
  });

  describe('on a server without wal_level=logical', () => {
    let plain: OwnPostgres;
    let plainUrl: string;
    beforeAll(async () => {
      plain = await startOwnPostgres(); // wal_level=replica, the default
      plainUrl = await createOwnDatabase(plain, 'wal_setup_plain');
    }, 120_000);
    afterAll(() => plain?.destroy());

    it('says what to set, no stack, exit 1', async () => {
      const failure = await cli(plainUrl, '--table', 'accounts').then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toMatch(
        /wal_level=logical .*rds\.logical_replication = 1.*this server has wal_level=replica/s,
      );
      expect(failure?.stderr).not.toMatch(/\n\s+at /);
    });
  });
});
