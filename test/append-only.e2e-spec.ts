import { Client } from 'pg';
import { AuditEventRepository } from '../src/audit/audit-event.repository';
import { encodeEvent } from '../src/audit/copy-format';
import { AuditEvent } from '../src/audit/audit.types';
import { eventId } from '../src/audit/event-id';
import { Pool } from 'pg';
import { randomBytes } from 'node:crypto';
import { createAuditRole } from '../src/common/database/audit-role';
import { TEST_ADMIN_URL } from './support/env';
import { createTestDatabase, TestDatabase } from './support/test-db';

const event = (at: Date, org = 'org-ao'): AuditEvent => ({
  id: eventId(at),
  occurredAt: at,
  organizationId: org,
  actorId: 'u1',
  actorType: 'user',
  action: 'update',
  eventType: 'doc.update',
  resourceType: 'doc',
  resourceId: 'd1',
  before: { v: 1 },
  after: { v: 2 },
  changes: null,
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
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the statement to fail');
    },
    (error: { code?: string; message: string }) => error,
  );

describe('append-only audit events', () => {
  let db: TestDatabase;
  let pool: Pool;
  let repository: AuditEventRepository;
  // Roles are cluster-wide: this run's own, made by the optional create-role step and dropped after.
  const appRoleName = `audit_app_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new Pool({ connectionString: db.url, max: 2 });
    repository = new AuditEventRepository(pool);
    await createAuditRole(db.url, { role: appRoleName });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    const admin = new Client({ connectionString: TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS "${appRoleName}"`).finally(() => admin.end());
  });

  it('rejects UPDATE and DELETE even for a superuser, unless the lifecycle switch is on', async () => {
    const e = event(new Date());
    await repository.copy([encodeEvent(e)]);
    const update = await failure(
      db.sql.query(`UPDATE audit_events SET actor_id = 'x' WHERE id = $1`, [e.id]),
    );
    expect(update.code).toBe('42501');
    expect(update.message).toMatch(/append-only: UPDATE is not allowed/);
    expect((await failure(db.sql.query(`DELETE FROM audit_events WHERE id = $1`, [e.id]))).code).toBe(
      '42501',
    );
    expect((await failure(db.sql.query(`DELETE FROM audit_seals`))).code).toBe('42501');
    expect((await failure(db.sql.query(`TRUNCATE audit_events`))).code).toBe('42501');

    // The partition job's path: its own transaction with the switch on.
    await db.sql.query('BEGIN');
    await db.sql.query(`SET LOCAL audit.lifecycle = 'on'`);
    const moved = await db.sql.query(`DELETE FROM audit_events WHERE id = $1`, [e.id]);
    await db.sql.query('COMMIT');
    expect(moved.rowCount).toBe(1);
    // SET LOCAL ends with the transaction.
    const again = event(new Date());
    await repository.copy([encodeEvent(again)]);
    expect((await failure(db.sql.query(`DELETE FROM audit_events WHERE id = $1`, [again.id]))).code).toBe(
      '42501',
    );
  });

  it('protects a partition created after the migration, and still lets whole partitions be detached and dropped', async () => {
    await db.sql.query(
      `CREATE TABLE audit_events_p2090_01 PARTITION OF audit_events FOR VALUES FROM ('2090-01-01') TO ('2090-02-01')`,
    );
    const e = event(new Date('2090-01-15T00:00:00Z'));
    await repository.copy([encodeEvent(e)]);
    const { rows } = await db.sql.query(
      `SELECT tableoid::regclass::text AS p FROM audit_events WHERE id = $1`,
      [e.id],
    );
    expect(rows[0].p).toBe('audit_events_p2090_01');
    expect((await failure(db.sql.query(`UPDATE audit_events_p2090_01 SET actor_id = 'x'`))).code).toBe(
      '42501',
    );
    expect((await failure(db.sql.query(`DELETE FROM audit_events_p2090_01`))).code).toBe('42501');
    await db.sql.query(`ALTER TABLE audit_events DETACH PARTITION audit_events_p2090_01`);
    await db.sql.query(`DROP TABLE audit_events_p2090_01`);
  });

  it('gives the application role INSERT and SELECT only: its UPDATE and DELETE are refused by privileges', async () => {
    const appRole = new Client({ connectionString: db.url });
    await appRole.connect();
    try {
      await appRole.query(`SET ROLE "${appRoleName}"`);
      const e = event(new Date());
      // The writer's whole path (COPY + seals + chain head) works as the app role.
      const asApp = new AuditEventRepository({
        connect: async () => Object.assign(appRole, { release: () => undefined }),
      } as unknown as Pool);
      await asApp.copy([encodeEvent(e)]);
      expect(
        (await appRole.query(`SELECT count(*)::int AS n FROM audit_events WHERE id = $1`, [e.id])).rows[0].n,
      ).toBe(1);
      const update = await failure(
        appRole.query(`UPDATE audit_events SET actor_id = 'x' WHERE id = $1`, [e.id]),
      );
      expect(update.code).toBe('42501');
      expect(update.message).toMatch(/permission denied/);
      expect((await failure(appRole.query(`DELETE FROM audit_events WHERE id = $1`, [e.id]))).code).toBe(
        '42501',
      );
      expect((await failure(appRole.query(`DELETE FROM audit_seals`))).code).toBe('42501');
      expect((await failure(appRole.query(`TRUNCATE audit_events`))).code).toBe('42501');
      // Even with the lifecycle switch: the privilege is missing.
      await appRole.query('BEGIN');
      await appRole.query(`SET LOCAL audit.lifecycle = 'on'`);
      expect((await failure(appRole.query(`DELETE FROM audit_events WHERE id = $1`, [e.id]))).code).toBe(
        '42501',
      );
      await appRole.query('ROLLBACK');
    } finally {
      await appRole.end();
    }
  });
});
