import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { AuditEventRepository } from '../src/audit/audit-event.repository';
import { AuditEvent } from '../src/audit/audit.types';
import { encodeEvent } from '../src/audit/copy-format';
import { eventId } from '../src/audit/event-id';
import { runMigrations } from '../src/common/database/migrate';
import { DEMO_MIGRATIONS } from '../demo/migrations';
import { AUDIT_MIGRATIONS } from '../migrations';
import { databaseUrl, TEST_ADMIN_URL } from './support/env';

/** The last migration of release 0.1 (its list also held the demo's accounts table). */
const LAST_OF_0_1 = 1795390000050;
const stamp = (migration: { name: string }) => Number(/(\d{13})$/.exec(migration.name)![1]);

const event = (i: number): AuditEvent => {
  const at = new Date(Date.now() - (100 - i) * 1000);
  return {
    id: eventId(at),
    occurredAt: at,
    organizationId: i % 2 ? 'org-a' : 'org-b',
    actorId: `u${i}`,
    actorType: 'user',
    action: 'update',
    eventType: 'doc.update',
    resourceType: 'doc',
    resourceId: `d${i}`,
    before: { v: i },
    after: { v: i + 1 },
    changes: [{ path: 'v', before: i, after: i + 1 }],
    status: 'success',
    statusCode: 200,
    errorMessage: null,
    severity: 'info',
    requestId: null,
    ip: null,
    userAgent: null,
    route: null,
    method: null,
    durationMs: 1,
    metadata: null,
  };
};

/**
 * A database as release 0.1 left it (its migrations, which also made the demo's `accounts` table and the
 * cluster-wide `audit_app` role with its grants), holding events, upgraded by the package's migrator alone.
 */
describe('upgrading a 0.1 database', () => {
  const name = `audit_upgrade_${process.pid}_${randomBytes(3).toString('hex')}`;
  const url = databaseUrl(name);
  let admin: Client;
  let sql: Client;

  beforeAll(async () => {
    admin = new Client({ connectionString: TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    sql = new Client({ connectionString: url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await admin?.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin?.end();
  });

  it('keeps every event, the app tables and the role, and applies only the new migrations', async () => {
    const release01 = [...AUDIT_MIGRATIONS, ...DEMO_MIGRATIONS].filter((m) => stamp(m) <= LAST_OF_0_1);
    await runMigrations(url, { migrations: release01, logger: { log: () => undefined } });
    // What 0.1's migrations also did: the role (cluster-wide, so it may exist already) and its grants.
    await sql.query(`DO $$ BEGIN CREATE ROLE "audit_app" NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await sql.query(`GRANT SELECT, INSERT ON "audit_events", "audit_seals", "audit_checkpoints" TO "audit_app"`);
    await sql.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON "accounts" TO "audit_app"`);

    const pool = new Pool({ connectionString: url, max: 2 });
    try {
      await new AuditEventRepository(pool).copy(Array.from({ length: 50 }, (_, i) => encodeEvent(event(i))));
    } finally {
      await pool.end();
    }
    const fingerprint = `SELECT count(*)::int AS n, md5(string_agg(id::text || encode(event_hash, 'hex'), ',' ORDER BY id)) AS digest
                           FROM audit_events`;
    const before = (await sql.query(fingerprint)).rows[0];
    const seals = (await sql.query(`SELECT count(*)::int AS n FROM audit_seals`)).rows[0].n;
    expect(before.n).toBe(50);

    // The package's migrator, as `npx nest-audit-trail migrate` runs it: its own list only.
    const applied = await runMigrations(url, { logger: { log: () => undefined } });
    expect(applied).toEqual(AUDIT_MIGRATIONS.filter((m) => stamp(m) > LAST_OF_0_1).map((m) => m.name));
    expect(applied.length).toBeGreaterThan(0);

    expect((await sql.query(fingerprint)).rows[0]).toEqual(before);
    expect((await sql.query(`SELECT count(*)::int AS n FROM audit_seals`)).rows[0].n).toBe(seals);
    expect((await sql.query(`SELECT to_regclass('accounts') IS NOT NULL AS kept`)).rows[0].kept).toBe(true);
    // The new migrations work on the old data: a partition refuses TRUNCATE now.
    const [{ partition }] = (
      await sql.query(`SELECT tableoid::regclass::text AS partition FROM audit_events LIMIT 1`)
    ).rows;
    await expect(sql.query(`TRUNCATE ${partition}`)).rejects.toMatchObject({ code: '42501' });
    expect(await runMigrations(url)).toEqual([]);
  });
});
