import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const PASSWORD = 'Sup3r-Secret-Passw0rd-7731';

/**
 * Issue 25, reason and grouping: why a change was made (X-Audit-Reason, a body field, withReason, record),
 * searchable and shown on each event; everything one request or one transaction did, across resources.
 * The demo service as it runs (accounts captured `transactional`).
 */
describe('history: reason and grouping', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let audit: AuditService;
  const bearer: Record<string, string> = {};
  const http = () => request(app.getHttpServer());
  const as = (who: string) => ({ Authorization: `Bearer ${bearer[who]}` });

  const createAccount = async (name: string, who = 'alice'): Promise<string> =>
    (
      await http()
        .post('/accounts')
        .set(as(who))
        .send({ name, email: `${name}@example.com`, plan: 'free', password: PASSWORD })
        .expect(201)
    ).body.id;
  const events = async (query: Json, who = 'auditorA'): Promise<Json[]> => {
    await flushAudit(app);
    return (await http().get('/audit/events').query(query).set(as(who)).expect(200)).body.items;
  };
  const planOf = async (id: string) =>
    (await db.sql.query('SELECT plan FROM accounts WHERE id = $1', [id])).rows[0].plan;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    audit = app.get(AuditService);
    bearer.alice = await token({ sub: 'alice', org: 'org-a' });
    bearer.bob = await token({ sub: 'bob', org: 'org-b' });
    bearer.auditorA = await token({ sub: 'auditor-a', org: 'org-a', roles: ['audit:read'] });
    bearer.auditorB = await token({ sub: 'auditor-b', org: 'org-b', roles: ['audit:read'] });
    bearer.root = await token({ sub: 'root', org: 'org-ops', roles: ['audit:read:all'] });
    bearer.nobody = await token({ sub: 'user', org: 'org-a', roles: [] });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  describe('reason', () => {
    let id: string;
    beforeAll(async () => {
      id = await createAccount('reasoned');
    });

    it('X-Audit-Reason (trimmed) is stored on the update as metadata.reason, shown as reason, in history too', async () => {
      await http()
        .patch(`/accounts/${id}`)
        .set(as('alice'))
        .set('X-Audit-Reason', '  Ticket 4711: customer upgrade  ')
        .send({ plan: 'pro' })
        .expect(200);
      const [event] = await events({ resourceId: id, action: 'update' });
      expect(event).toMatchObject({
        status: 'success',
        reason: 'Ticket 4711: customer upgrade',
        metadata: expect.objectContaining({ reason: 'Ticket 4711: customer upgrade' }),
      });
      expect(event.transactionId).toMatch(/^[0-9]+$/);
      expect(event.metadata.transactionId).toBe(event.transactionId);

      const byId = await http().get(`/audit/events/${event.id}`).set(as('auditorA')).expect(200);
      expect(byId.body.reason).toBe('Ticket 4711: customer upgrade');
      const history = await http()
        .get(`/audit/resources/account/${id}/history`)
        .set(as('auditorA'))
        .expect(200);
      expect(history.body.items.map((e: Json) => [e.action, e.reason])).toEqual([
        ['create', null],
        ['update', 'Ticket 4711: customer upgrade'],
      ]);
    });

    it('is searchable: case-insensitive substring, wildcards taken literally, within the tenant', async () => {
      await http()
        .patch(`/accounts/${id}`)
        .set(as('alice'))
        .set('X-Audit-Reason', '100% sure, per_policy')
        .send({ plan: 'enterprise' })
        .expect(200);
      await flushAudit(app);
      const found = await events({ reason: 'TICKET 4711' });
      expect(found.map((e) => e.reason)).toEqual(['Ticket 4711: customer upgrade']);
      expect((await events({ reason: '0% s' })).map((e) => e.reason)).toEqual(['100% sure, per_policy']);
      expect(await events({ reason: '%' })).toHaveLength(1);
      expect(await events({ reason: '0_ s' })).toHaveLength(0); // `_` is not a wildcard
      expect(await events({ reason: 'r_p' })).toHaveLength(1);
      expect(await events({ reason: 'ticket', action: 'create' })).toHaveLength(0); // with the other filters
      expect(await events({ reason: 'ticket' }, 'auditorB')).toHaveLength(0); // another tenant's
      expect(await events({ reason: 'ticket', organizationId: 'org-a' }, 'root')).toHaveLength(1);
      await http().get('/audit/events').query({ reason: 'a\u0001b' }).set(as('auditorA')).expect(400);
      const tooLong = await http()
        .get('/audit/events')
        .query({ reason: 'x'.repeat(201) })
        .set(as('auditorA'))
        .expect(400);
      expect(JSON.stringify(tooLong.body.message)).toContain('reason');

      const exported = await http()
        .get('/audit/export')
        .query({ format: 'ndjson', reason: 'ticket 4711' })
        .set(as('auditorA'))
        .expect(200);
      const lines = exported.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ resourceId: id, reason: 'Ticket 4711: customer upgrade' });
      expect(lines[0].transactionId).toMatch(/^[0-9]+$/);
    });

    it('a reason over 500 characters is a 400 naming the header; nothing is written, the refusal is recorded', async () => {
      const res = await http()
        .patch(`/accounts/${id}`)
        .set(as('alice'))
        .set('X-Request-Id', 'too-long-reason')
        .set('X-Audit-Reason', 'r'.repeat(501))
        .send({ plan: 'free' })
        .expect(400);
      expect(res.body.message).toEqual(['X-Audit-Reason must be at most 500 characters']);
      expect(await planOf(id)).toBe('enterprise');
      const recorded = await events({ resourceId: id, status: 'failure' });
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({ statusCode: 400, requestId: 'too-long-reason', reason: null });
      expect(JSON.stringify(recorded[0])).not.toContain('rrrrrrrrrr');
      // 500 exactly is accepted.
      await http()
        .patch(`/accounts/${id}`)
        .set(as('alice'))
        .set('X-Audit-Reason', 'r'.repeat(500))
        .send({ plan: 'free' })
        .expect(200);
    });

    it('withReason() gives a job its reason; record({ reason }) its own; a caller cannot forge reserved keys', async () => {
      const job = async () => {
        await new Promise((resolve) => setTimeout(resolve, 5)); // across an await
        return audit.record({
          action: 'purge',
          resourceType: 'session',
          resourceId: 's-1',
          actor: { id: 'cleanup-job', type: 'service', organizationId: 'org-a' },
          metadata: { reason: 'forged', transactionId: '1', affectedCount: 99, kept: true },
        })!;
      };
      const inside = await audit.withReason('  nightly retention (policy R-7) ', job);
      const own = await audit.withReason('outer', async () =>
        audit.record({ action: 'purge', actor: { organizationId: 'org-a' }, reason: 'inner' }),
      );
      const outside = await job();
      expect(inside.metadata).toEqual({ reason: 'nightly retention (policy R-7)', kept: true });
      expect(own!.metadata).toEqual({ reason: 'inner' });
      expect(outside.metadata).toEqual({ kept: true });
      await flushAudit(app);
      const res = await http().get(`/audit/events/${inside.id}`).set(as('auditorA')).expect(200);
      expect(res.body).toMatchObject({ reason: 'nightly retention (policy R-7)', transactionId: null });
      expect((await events({ reason: 'policy r-7' })).map((e) => e.id)).toEqual([inside.id]);
    });
  });

  describe('grouping', () => {
    const ids: string[] = [];
    let txid: string;

    beforeAll(async () => {
      for (const name of ['bulk-1', 'bulk-2', 'bulk-3']) ids.push(await createAccount(name));
    });

    it('a bulk update without a reason is refused before the handler: 400 naming it, nothing changed', async () => {
      const res = await http()
        .patch('/accounts/bulk')
        .set(as('alice'))
        .set('X-Request-Id', 'bulk-no-reason')
        .send({ ids, plan: 'pro' })
        .expect(400);
      expect(res.body.message).toEqual(['a reason is required: reason or the X-Audit-Reason header']);
      for (const id of ids) expect(await planOf(id)).toBe('free');
      expect(
        await events({ action: 'update', status: 'success', resourceType: 'account', q: 'bulk' }),
      ).toEqual([]);
      const refused = await http().get('/audit/requests/bulk-no-reason').set(as('auditorA')).expect(200);
      expect(refused.body.items).toEqual([
        expect.objectContaining({ status: 'failure', statusCode: 400, resourceId: null }),
      ]);
    });

    it('one transaction updating 3 accounts: 3 events, one request id, one transaction id, the body reason', async () => {
      const res = await http()
        .patch('/accounts/bulk')
        .set(as('alice'))
        .set('X-Request-Id', 'bulk-req-1')
        .set('X-Audit-Reason', 'the header loses to the body field')
        .send({ ids, plan: 'pro', reason: ' Q3 repricing (CHG-88) ' })
        .expect(200);
      expect(res.body.map((a: Json) => a.plan)).toEqual(['pro', 'pro', 'pro']);
      await flushAudit(app);
      const { rows } = await db.sql.query(
        `SELECT resource_id, request_id, metadata FROM audit_events
          WHERE action = 'update' AND resource_id = ANY($1::text[])`,
        [ids],
      );
      expect(rows.map((r) => r.resource_id).sort()).toEqual([...ids].sort());
      expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(['bulk-req-1']));
      const txids = new Set(rows.map((r) => r.metadata.transactionId));
      expect(txids.size).toBe(1);
      txid = [...txids][0];
      expect(txid).toMatch(/^[0-9]+$/);
      expect(rows.every((r) => r.metadata.reason === 'Q3 repricing (CHG-88)')).toBe(true);
    });

    it('GET requests/:requestId and transactions/:txid list them oldest first, keyset-paged, tenant-scoped', async () => {
      for (const path of ['/audit/requests/bulk-req-1', `/audit/transactions/${txid}`]) {
        const all = (await http().get(path).set(as('auditorA')).expect(200)).body;
        expect(all.nextCursor).toBeNull();
        expect(all.items.map((e: Json) => e.resourceId).sort()).toEqual([...ids].sort());
        expect(
          all.items.every((e: Json) => e.eventType === 'account.update' && e.transactionId === txid),
        ).toBe(true);
        const times = all.items.map((e: Json) => `${e.occurredAt}|${e.id}`);
        expect(times).toEqual([...times].sort());

        const first = (await http().get(path).query({ limit: 2 }).set(as('auditorA')).expect(200)).body;
        expect(first.items).toHaveLength(2);
        const second = (
          await http().get(path).query({ limit: 2, cursor: first.nextCursor }).set(as('auditorA')).expect(200)
        ).body;
        expect([...first.items, ...second.items].map((e: Json) => e.id)).toEqual(
          all.items.map((e: Json) => e.id),
        );
        expect(second.nextCursor).toBeNull();

        // Another organization sees none of them; read:all sees them, or filters by organization.
        expect((await http().get(path).set(as('auditorB')).expect(200)).body.items).toEqual([]);
        expect((await http().get(path).set(as('root')).expect(200)).body.items).toHaveLength(3);
        const other = await http().get(path).query({ organizationId: 'org-b' }).set(as('root')).expect(200);
        expect(other.body.items).toEqual([]);
        await http().get(path).query({ organizationId: 'org-b' }).set(as('auditorA')).expect(403);
        await http().get(path).set(as('nobody')).expect(403);
        await http().get(path).expect(401);
      }
      // A cursor of one grouping is no cursor of another.
      const page = (await http().get('/audit/requests/bulk-req-1').query({ limit: 1 }).set(as('auditorA')))
        .body;
      await http()
        .get(`/audit/transactions/${txid}`)
        .query({ limit: 1, cursor: page.nextCursor })
        .set(as('auditorA'))
        .expect(400);
      // The reads are access events, like the other readers'.
      const reads = await events({ resourceType: 'audit-transaction', resourceId: txid });
      expect(reads.length).toBeGreaterThan(0);
    });

    it('validates the path parameters, naming them', async () => {
      for (const bad of ['abc', '12a', '-1', '1'.repeat(21)]) {
        const res = await http().get(`/audit/transactions/${bad}`).set(as('auditorA')).expect(400);
        expect(JSON.stringify(res.body.message)).toContain('txid');
      }
      // Leading zeros name the same transaction.
      const padded = await http().get(`/audit/transactions/000${txid}`).set(as('auditorA')).expect(200);
      expect(padded.body.items).toHaveLength(3);
      for (const bad of ['a%01b', 'x'.repeat(129)]) {
        const res = await http().get(`/audit/requests/${bad}`).set(as('auditorA')).expect(400);
        expect(JSON.stringify(res.body.message)).toContain('requestId');
      }
      expect(
        (await http().get('/audit/requests/no-such-request').set(as('auditorA')).expect(200)).body,
      ).toEqual({
        items: [],
        nextCursor: null,
      });
    });

    it('recordBulk(): one event, bulk-<action> event type, the first 1000 ids and the count of all', async () => {
      const all = Array.from({ length: 1500 }, (_, i) => `inv-${i}`);
      const event = audit.recordBulk({
        action: 'update',
        resourceType: 'invoice',
        ids: all,
        actor: { id: 'repricing-job', type: 'service', organizationId: 'org-a' },
        reason: 'yearly repricing',
        metadata: { affectedCount: 1, plan: 'pro' },
      })!;
      expect(event).toMatchObject({
        action: 'update',
        eventType: 'invoice.bulk-update',
        resourceType: 'invoice',
        resourceId: null,
        status: 'success',
      });
      expect(event.metadata).toEqual({
        plan: 'pro',
        reason: 'yearly repricing',
        affectedIds: all.slice(0, 1000),
        affectedCount: 1500,
      });
      const small = audit.withReason('cleanup', () =>
        audit.recordBulk({
          action: 'delete',
          resourceType: 'session',
          ids: [1, 2],
          actor: { organizationId: 'org-a' },
        }),
      )!;
      expect(small.metadata).toEqual({ reason: 'cleanup', affectedIds: ['1', '2'], affectedCount: 2 });
      await flushAudit(app);
      const [stored] = await events({ eventType: 'invoice.bulk-update' });
      expect(stored).toMatchObject({ id: event.id, reason: 'yearly repricing', transactionId: null });
      expect(stored.metadata.affectedIds).toHaveLength(1000);
      expect(stored.metadata.affectedCount).toBe(1500);
    });
  });
});
