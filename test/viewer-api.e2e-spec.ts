import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { get, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import request from 'supertest';
import { QueryRunner } from 'typeorm';
import { copyGrants } from '../migrations/1795390000080-StatsActorsRecent';
import { AuditService, RecordAuditEventInput } from '../src/audit';
import { createAuditRole } from '../src/common/database/audit-role';
import { IntegrityService } from '../src/integrity/integrity.service';
import { StatsRefreshJob } from '../src/query/stats-refresh.job';
import { TEST_ADMIN_URL } from './support/env';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const DAY = 24 * 3600 * 1000;

/**
 * The endpoints the audit viewer reads: stats per day and action and top actors, an actor's summary per
 * action, and the integrity status with a verification that reports its progress (NDJSON).
 */
describe('viewer API', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let audit: AuditService;
  const tokens: Record<string, string> = {};
  const http = () => request(app.getHttpServer());
  const as = (who: string) => ({ Authorization: `Bearer ${tokens[who]}` });
  const record = (org: string, actor: string, input: Partial<RecordAuditEventInput> = {}) =>
    audit.record({
      action: 'update',
      resourceType: 'invoice',
      resourceId: 'inv-1',
      actor: { id: actor, organizationId: org },
      ...input,
    })!;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url, { AUDIT_BATCH_SIZE: '20', AUDIT_FLUSH_CONCURRENCY: '1' });
    audit = app.get(AuditService);
    tokens.a = await token({ sub: 'auditor-a', org: 'org-a', roles: ['audit:read'] });
    tokens.b = await token({ sub: 'auditor-b', org: 'org-b', roles: ['audit:read'] });
    tokens.all = await token({ sub: 'root', org: 'org-ops', roles: ['audit:read:all'] });
    tokens.adminA = await token({ sub: 'admin-a', org: 'org-a', roles: ['audit:admin'] });
    tokens.adminAll = await token({ sub: 'root', org: 'org-ops', roles: ['audit:admin', 'audit:read:all'] });

    const now = Date.now();
    // org-a: three actors over three days, several actions, some failures; org-b: the same actor id u1.
    for (let i = 0; i < 12; i++) {
      record('org-a', 'u1', {
        action: ['update', 'create', 'delete'][i % 3],
        status: i % 4 === 0 ? 'failure' : 'success',
        occurredAt: new Date(now - (i % 3) * DAY - 60_000),
      });
    }
    for (let i = 0; i < 7; i++) record('org-a', 'u2', { occurredAt: new Date(now - (i % 2) * DAY - 60_000) });
    record('org-a', 'u3', { action: 'login', occurredAt: new Date(now - 2 * DAY) });
    // Outside the 90 days of the top-actors view, inside the daily stats.
    record('org-a', 'u4', { occurredAt: new Date(now - 120 * DAY) });
    for (let i = 0; i < 30; i++)
      record('org-b', 'u1', { action: 'export', occurredAt: new Date(now - 60_000) });
    record('org-b', 'b-only', { occurredAt: new Date(now - 60_000) });
    await flushAudit(app);
    // Twice: the first may be the refresh the app started at boot, before these events.
    await app.get(StatsRefreshJob).run();
    await app.get(StatsRefreshJob).run();
  });
  // Roles are cluster-wide: this run's own, dropped after the database (which holds their grants).
  const roles = [
    `audit_app_${randomBytes(4).toString('hex')}`,
    `audit_app_${randomBytes(4).toString('hex')}`,
  ];
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    const admin = new Client({ connectionString: TEST_ADMIN_URL });
    await admin.connect();
    for (const role of roles) await admin.query(`DROP ROLE IF EXISTS "${role}"`);
    await admin.end();
  });

  const stats = async (query: Json, who = 'a') =>
    (await http().get('/audit/stats').query(query).set(as(who)).expect(200)).body as {
      groupBy: string;
      items: Json[];
      refreshedAt: string | null;
    };

  describe('GET /audit/stats?groupBy=dayAction', () => {
    it('has one row per (day, action), ordered by day then action, adding up to the daily totals', async () => {
      for (const who of ['a', 'b', 'all']) {
        const byDay = await stats({ groupBy: 'day' }, who);
        const byDayAction = await stats({ groupBy: 'dayAction' }, who);
        expect(byDayAction.groupBy).toBe('dayAction');
        expect(byDayAction.refreshedAt).toBeTruthy();
        const keys = byDayAction.items.map((r) => `${r.key} ${r.action}`);
        expect(keys).toEqual([...keys].sort());
        expect(new Set(keys).size).toBe(keys.length);
        for (const row of byDayAction.items) expect(row.key).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        const sums = new Map<string, { events: number; failures: number }>();
        for (const row of byDayAction.items) {
          const sum = sums.get(row.key) ?? { events: 0, failures: 0 };
          sums.set(row.key, { events: sum.events + row.events, failures: sum.failures + row.failures });
        }
        expect(byDay.items.map((r) => [r.key, { events: r.events, failures: r.failures }])).toEqual([
          ...sums,
        ]);
      }
    });

    it('keeps the range and the tenant', async () => {
      const today = new Date().toISOString().slice(0, 10);
      const { items } = await stats({ groupBy: 'dayAction', from: today });
      expect(items.every((r) => r.key === today)).toBe(true);
      expect(items.find((r) => r.action === 'export')).toBeUndefined(); // org-b's
      const forB = await stats({ groupBy: 'dayAction', organizationId: 'org-b' }, 'all');
      expect(forB.items.find((r) => r.action === 'export')).toMatchObject({ key: today, events: 30 });
      await http()
        .get('/audit/stats')
        .query({ groupBy: 'dayAction', organizationId: 'org-b' })
        .set(as('a'))
        .expect(403);
    });
  });

  describe('GET /audit/stats?groupBy=actor', () => {
    it('lists the top actors, most events first, limited, over the last 90 days only', async () => {
      const top = await stats({ groupBy: 'actor' });
      expect(top.items).toEqual([
        { key: 'u1', events: 12, failures: 3 },
        { key: 'u2', events: 7, failures: 0 },
        { key: 'u3', events: 1, failures: 0 },
      ]);
      expect((await stats({ groupBy: 'actor', limit: '2' })).items.map((r) => r.key)).toEqual(['u1', 'u2']);
      // Every organization: u1 of org-a and org-b add up.
      const all = await stats({ groupBy: 'actor', limit: '1' }, 'all');
      expect(all.items).toEqual([{ key: 'u1', events: 42, failures: 3 }]);
      // [from, to) in whole days: only today.
      const today = new Date().toISOString().slice(0, 10);
      const recent = await stats({ groupBy: 'actor', from: today });
      expect(recent.items.map((r) => r.key)).toEqual(['u1', 'u2']);
      expect(recent.items[0].events).toBe(4);
    });

    it('matches a direct count of the events of the view window', async () => {
      const { rows } = await db.sql.query(
        `SELECT coalesce(actor_id, '') AS key, count(*)::int AS events,
                count(*) FILTER (WHERE status = 'failure')::int AS failures
           FROM audit_events_all
          WHERE organization_id = 'org-b' AND occurred_at >= now() - interval '90 days'
          GROUP BY 1 ORDER BY 2 DESC, 1`,
      );
      expect((await stats({ groupBy: 'actor' }, 'b')).items).toEqual(rows);
    });

    it.each([['0'], ['101'], ['-1'], ['1.5'], ['ten']])('limit=%s is a 400 naming limit', async (limit) => {
      const res = await http()
        .get('/audit/stats')
        .query({ groupBy: 'actor', limit })
        .set(as('a'))
        .expect(400);
      expect(res.body.message.join(' ')).toContain('limit');
    });

    it('refuses limit with another groupBy, naming it', async () => {
      const res = await http()
        .get('/audit/stats')
        .query({ groupBy: 'day', limit: '5' })
        .set(as('a'))
        .expect(400);
      expect(res.body.message.join(' ')).toContain('limit');
    });

    it('is refreshed with the other views: refreshedAt covers it', async () => {
      const { rows } = await db.sql.query(`SELECT view_name FROM audit_stats_refreshes ORDER BY view_name`);
      expect(rows.map((r) => r.view_name)).toContain('audit_stats_actors_recent');
    });
  });

  describe('GET /audit/actors/:id/summary', () => {
    const summary = (actor: string, query: Json, who = 'a') =>
      http().get(`/audit/actors/${actor}/summary`).query(query).set(as(who));

    it("counts the actor's events per action like a direct count, most first", async () => {
      const from = new Date(Date.now() - 10 * DAY).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const res = await summary('u1', { from, to }).expect(200);
      const { rows } = await db.sql.query(
        `SELECT action, count(*)::int AS events, count(*) FILTER (WHERE status = 'failure')::int AS failures
           FROM audit_events WHERE actor_id = 'u1' AND organization_id = 'org-a'
            AND occurred_at >= $1 AND occurred_at < $2
          GROUP BY action ORDER BY 2 DESC, 1`,
        [from, to],
      );
      expect(res.body).toEqual({ actorId: 'u1', from, to, total: 12, items: rows });
      expect(rows.length).toBe(3);
    });

    it('defaults to the last 30 days', async () => {
      const res = await summary('u4', {}).expect(200);
      expect(res.body.total).toBe(0); // 120 days ago
      expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(30 * DAY);
      expect(Math.abs(Date.parse(res.body.to) - Date.now())).toBeLessThan(60_000);
      const older = await summary('u4', { from: new Date(Date.now() - 200 * DAY).toISOString() }).expect(200);
      expect(older.body).toMatchObject({ total: 1, items: [{ action: 'update', events: 1, failures: 0 }] });
    });

    it("counts nothing of another organization's actor for an audit:read token (total 0, not a 404)", async () => {
      const res = await summary('b-only', {}).expect(200);
      expect(res.body).toMatchObject({ actorId: 'b-only', total: 0, items: [] });
      // u1 of org-a only, although org-b's u1 did 30 exports.
      expect((await summary('u1', {}).expect(200)).body.items.map((i: Json) => i.action)).not.toContain(
        'export',
      );
      expect((await summary('u1', {}, 'b').expect(200)).body).toMatchObject({ total: 30 });
      await summary('u1', { organizationId: 'org-b' }).expect(403);
      expect((await summary('u1', { organizationId: 'org-b' }, 'all').expect(200)).body.total).toBe(30);
      expect((await summary('u1', {}, 'all').expect(200)).body.total).toBe(42);
    });

    it('refuses a range over 366 days naming from, and from at or after to', async () => {
      const long = await summary('u1', { from: '2025-01-01', to: '2026-01-03' }).expect(400);
      expect(long.body.message.join(' ')).toMatch(/^from /);
      await summary('u1', { from: '2025-01-01', to: '2026-01-02' }).expect(200);
      const reversed = await summary('u1', { from: '2026-01-02', to: '2026-01-01' }).expect(400);
      expect(reversed.body.message.join(' ')).toMatch(/^from /);
      const bad = await summary('u1', { from: '2026-02-30' }).expect(400);
      expect(bad.body.message.join(' ')).toContain('from');
      await summary('u1', { limit: '5' }).expect(400);
    });

    it('is itself recorded as an access event of the reader', async () => {
      await flushAudit(app);
      const { rows } = await db.sql.query(
        `SELECT count(*)::int AS n FROM audit_events
          WHERE actor_id = 'auditor-a' AND resource_type = 'audit-activity' AND resource_id = 'u1'`,
      );
      expect(rows[0].n).toBeGreaterThan(0);
    });
  });

  describe('integrity status and the verification with progress', () => {
    const BATCH = 20;
    /** What a superuser with write access does: the lifecycle switch lets UPDATE through the trigger. */
    const tamper = async (sql: string, params: unknown[] = []) => {
      await db.sql.query('BEGIN');
      await db.sql.query(`SET LOCAL audit.lifecycle = 'on'`);
      await db.sql.query(sql, params);
      await db.sql.query('COMMIT');
    };
    /** `n` events of `org` in batches of BATCH (sealed per batch). */
    const chainFor = async (org: string, n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        if (i > 0 && i % BATCH === 0) await flushAudit(app);
        ids.push(record(org, `user-${i % 3}`, { resourceId: `r-${i}` }).id);
      }
      await flushAudit(app);
      return ids;
    };
    const status = async (query: Json, who: string) =>
      (await http().get('/audit/integrity/status').query(query).set(as(who)).expect(200)).body as Json;
    /** The streamed verify, as the viewer reads it: status, headers and the parsed lines. */
    const streamed = async (query: Json, who = 'adminAll') => {
      const res = await http()
        .get('/audit/integrity/verify')
        .query({ ...query, progress: 'ndjson' })
        .set(as(who))
        .buffer(true)
        .parse((response, done) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => done(null, text));
        });
      const text = res.body as string;
      return {
        res,
        text,
        lines:
          res.status === 200
            ? text
                .trimEnd()
                .split('\n')
                .map((l) => JSON.parse(l) as Json)
            : [],
      };
    };
    let tampered: string;

    it('shows the chain and no verification before any', async () => {
      const body = await status({}, 'a');
      expect(body).toMatchObject({ organizationId: 'org-a', lastVerification: null, newestCheckpoint: null });
      const { rows } = await db.sql.query(
        `SELECT count(*)::int AS events FROM audit_events WHERE organization_id = 'org-a'`,
      );
      expect(body.chain).toMatchObject({ sealedEvents: rows[0].events, pendingBatches: 0 });
      expect(body.chain.seals).toBeGreaterThan(0);
      expect(Date.parse(body.chain.lastSealAt)).toBeGreaterThan(Date.now() - 10 * 60_000);
    });

    it('records every verification: the status shows the latest, with the newest checkpoint', async () => {
      await app.get(IntegrityService).chainAndSign();
      const from = new Date(Date.now() - 200 * DAY).toISOString();
      const report = (
        await http().get('/audit/integrity/verify').query({ from }).set(as('adminA')).expect(200)
      ).body;
      expect(report.ok).toBe(true);
      const body = await status({}, 'a');
      expect(body.lastVerification).toEqual({
        startedAt: expect.any(String),
        finishedAt: expect.any(String),
        ok: true,
        checkedEvents: report.checkedEvents,
        firstBroken: null,
        from,
        to: null,
      });
      expect(Date.parse(body.lastVerification.finishedAt)).toBeGreaterThanOrEqual(
        Date.parse(body.lastVerification.startedAt),
      );
      expect(body.newestCheckpoint).toMatchObject({
        organizationId: 'org-a',
        seq: String(body.chain.seals),
        keyId: expect.stringMatching(/^[0-9a-f]{16}$/),
      });
      const { rows } = await db.sql.query(
        `SELECT organization_id, trigger, actor_id FROM audit_verifications ORDER BY id`,
      );
      expect(rows).toEqual([{ organization_id: 'org-a', trigger: 'api', actor_id: 'admin-a' }]);
    });

    it("keeps another organization's status from an audit:read token (403), as the other endpoints do", async () => {
      const res = await http().get('/audit/integrity/status').query({ organizationId: 'org-b' }).set(as('a'));
      expect(res.status).toBe(403);
      expect((await status({ organizationId: 'org-b' }, 'all')).organizationId).toBe('org-b');
      expect((await status({}, 'b')).lastVerification).toBeNull();
      const bad = await http()
        .get('/audit/integrity/status')
        .query({ organizationId: 'x\u0000' })
        .set(as('a'));
      expect(bad.status).toBe(400);
      expect(bad.body.message.join(' ')).toContain('organizationId');
    });

    it('streams start, then the result naming the tampered event, and records it for the status', async () => {
      const ids = await chainFor('org-t', 3 * BATCH);
      tampered = ids[25];
      await tamper(`UPDATE audit_events SET resource_id = 'forged' WHERE id = $1`, [tampered]);
      const { res, lines, text } = await streamed({ organizationId: 'org-t' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(text.endsWith('\n')).toBe(true);
      expect(lines[0]).toEqual({ type: 'start', totalEvents: 3 * BATCH });
      expect(lines.slice(1, -1).every((l) => l.type === 'progress')).toBe(true);
      expect(lines.filter((l) => l.type === 'result')).toHaveLength(1);
      const result = lines.at(-1)!;
      expect(result).toMatchObject({
        type: 'result',
        ok: false,
        checkedEvents: 3 * BATCH,
        firstBroken: { kind: 'event', id: tampered, organizationId: 'org-t' },
      });
      const body = await status({ organizationId: 'org-t' }, 'adminAll');
      expect(body.lastVerification).toMatchObject({
        ok: false,
        checkedEvents: 3 * BATCH,
        firstBroken: result.firstBroken,
      });
    });

    it("records a run over every chain per organization: each status is the chain's own", async () => {
      const { lines } = await streamed({});
      const result = lines.at(-1)!;
      expect(result).toMatchObject({ type: 'result', ok: false, firstBroken: { id: tampered } });
      expect(lines[0].type).toBe('start');
      expect(lines[0].totalEvents).toBeGreaterThanOrEqual(3 * BATCH);
      // org-a's chain is intact: its own row says so, the run's row (organization null) does not.
      expect((await status({}, 'a')).lastVerification).toMatchObject({ ok: true, firstBroken: null });
      const all = await status({}, 'all');
      expect(all.organizationId).toBeNull();
      expect(all.lastVerification).toMatchObject({
        ok: false,
        checkedEvents: result.checkedEvents,
        firstBroken: { id: tampered, organizationId: 'org-t' },
      });
      expect(all.chain.sealedEvents).toBeGreaterThan((await status({}, 'a')).chain.sealedEvents);
      const { rows } = await db.sql.query(
        `SELECT count(*)::int AS n FROM audit_verifications WHERE finished_at = (SELECT max(finished_at) FROM audit_verifications)`,
      );
      expect(rows[0].n).toBe(result.chains.length + 1);
    });

    it('answers a 403 or a 400 before any line, and keeps the plain verify as it was', async () => {
      const forbidden = await streamed({ organizationId: 'org-b' }, 'adminA');
      expect(forbidden.res.status).toBe(403);
      expect(forbidden.res.headers['content-type']).toMatch(/^application\/json/);
      await http().get('/audit/integrity/verify').query({ progress: 'ndjson' }).set(as('a')).expect(403);
      const bad = await http().get('/audit/integrity/verify').query({ progress: 'json' }).set(as('adminA'));
      expect(bad.status).toBe(400);
      expect(bad.body.message.join(' ')).toContain('progress');
      const plain = await http().get('/audit/integrity/verify').set(as('adminA')).expect(200);
      expect(plain.headers['content-type']).toMatch(/^application\/json/);
      expect(plain.body).toMatchObject({ ok: true, chains: [{ organizationId: 'org-a' }] });
    });

    it('survives a client that disconnects mid-stream: the verification still finishes and is recorded', async () => {
      const count = async () =>
        (
          await db.sql.query(
            `SELECT count(*)::int AS n FROM audit_verifications WHERE organization_id = 'org-t'`,
          )
        ).rows[0].n as number;
      const before = await count();
      const { port } = app.getHttpServer().listen(0).address() as AddressInfo;
      await new Promise<void>((resolve, reject) => {
        const req = get(
          `http://127.0.0.1:${port}/audit/integrity/verify?progress=ndjson&organizationId=org-t`,
          { headers: as('adminAll') },
          (res: IncomingMessage) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', (error: NodeJS.ErrnoException) =>
          error.code === 'ECONNRESET' ? undefined : reject(error),
        );
      });
      for (let i = 0; i < 100 && (await count()) === before; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await count()).toBe(before + 1);
      // The app still answers.
      await http().get('/audit/integrity/status').set(as('a')).expect(200);
    });
  });

  describe('grants', () => {
    const can = async (role: string, table: string, privilege: string) =>
      (await db.sql.query(`SELECT has_table_privilege($1, $2, $3) AS ok`, [role, table, privilege])).rows[0]
        .ok;

    it('lets the app role read the new view and append verifications, never change them', async () => {
      await createAuditRole(db.url, { role: roles[0] });
      expect(await can(roles[0], 'audit_stats_actors_recent', 'SELECT')).toBe(true);
      expect(await can(roles[0], 'audit_verifications', 'INSERT')).toBe(true);
      expect(await can(roles[0], 'audit_verifications', 'SELECT')).toBe(true);
      expect(await can(roles[0], 'audit_verifications', 'UPDATE')).toBe(false);
      expect(await can(roles[0], 'audit_verifications', 'DELETE')).toBe(false);
      expect(await can(roles[0], 'audit_verifications', 'TRUNCATE')).toBe(false);
    });

    it("the migrations give the new objects to the roles that had the old ones' grants (an upgrade)", async () => {
      const runner = { query: (sql: string) => db.sql.query(sql) } as unknown as QueryRunner;
      await db.sql.query(`CREATE ROLE "${roles[1]}" NOLOGIN`);
      await db.sql.query(`GRANT SELECT ON audit_stats_daily TO "${roles[1]}"`);
      await db.sql.query(`GRANT SELECT, INSERT ON audit_events TO "${roles[1]}"`);
      expect(await can(roles[1], 'audit_stats_actors_recent', 'SELECT')).toBe(false);
      await copyGrants(runner, 'audit_stats_daily', 'SELECT', 'audit_stats_actors_recent', 'SELECT');
      await copyGrants(runner, 'audit_events', 'INSERT', 'audit_verifications', 'SELECT, INSERT');
      expect(await can(roles[1], 'audit_stats_actors_recent', 'SELECT')).toBe(true);
      expect(await can(roles[1], 'audit_verifications', 'INSERT')).toBe(true);
      expect(await can(roles[1], 'audit_verifications', 'UPDATE')).toBe(false);
    });
  });
});
