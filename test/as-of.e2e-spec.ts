import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const EMAIL = 'ada.lovelace.4417@example.org';
const NAME = 'Ada King Lovelace';
/** Fields whose changes the trail may leave out of `changes` (DEFAULT_IGNORED_FIELDS): the states keep them. */
const NOISE = new Set(['updatedAt', 'updated_at', 'version']);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('As of: a resource state at any instant, and the diff between two instants', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let alice: string; // org-a user of the demo accounts API
  let adminA: string;
  let readerA: string;
  let adminB: string;
  let accountId: string;
  /** `times[i]`: an instant after step i committed and before step i + 1 (0 = before the create). */
  const times: string[] = [];
  /** `states[i]`: the account as the API returned it after step i (1 = created, 2-4 = updates). */
  const states: Json[] = [];

  const http = () => request(app.getHttpServer());
  const asOf = (at: string, bearer = adminA, id = accountId, extra: Json = {}) =>
    http()
      .get(`/audit/resources/account/${id}/as-of`)
      .query({ at, ...extra })
      .set('Authorization', `Bearer ${bearer}`);
  const diff = (from: string, to: string, bearer = adminA) =>
    http()
      .get(`/audit/resources/account/${accountId}/diff`)
      .query({ from, to })
      .set('Authorization', `Bearer ${bearer}`);
  const history = async () => {
    await flushAudit(app);
    const res = await http()
      .get(`/audit/resources/account/${accountId}/history`)
      .set('Authorization', `Bearer ${adminA}`)
      .expect(200);
    return res.body.items as Json[];
  };
  /** A step, with a distinct instant on either side of its event. */
  const step = async <T>(work: () => Promise<T>): Promise<T> => {
    await sleep(15);
    const result = await work();
    await flushAudit(app);
    await sleep(15);
    times.push(new Date().toISOString());
    return result;
  };
  const stored = (view: Json) => ({ ...view, passwordHash: '[REDACTED]' });

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    alice = await token({ sub: 'alice', org: 'org-a' });
    adminA = await token({ sub: 'admin-a', org: 'org-a', roles: ['audit:read', 'audit:admin'] });
    readerA = await token({ sub: 'reader-a', org: 'org-a', roles: ['audit:read'] });
    adminB = await token({ sub: 'admin-b', org: 'org-b', roles: ['audit:read', 'audit:admin'] });
    const as = { Authorization: `Bearer ${alice}` };

    times.push(new Date().toISOString());
    const created = await step(() =>
      http()
        .post('/accounts')
        .set(as)
        .send({ name: NAME, email: EMAIL, plan: 'free', password: 'Sup3r-Secret-Passw0rd-4417' })
        .expect(201),
    );
    accountId = created.body.id;
    states[1] = created.body;
    for (const [i, body] of [
      { plan: 'pro' },
      { name: 'Ada Lovelace', email: 'ada@analytical.example.org' },
      { plan: 'enterprise' },
    ].entries()) {
      const updated = await step(() => http().patch(`/accounts/${accountId}`).set(as).send(body).expect(200));
      states[i + 2] = updated.body;
    }
    await step(() => http().delete(`/accounts/${accountId}`).set(as).expect(204));
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('returns exactly the committed state at every instant between the steps', async () => {
    const events = await history();
    expect(events.map((e) => e.action)).toEqual(['create', 'update', 'update', 'update', 'delete']);
    for (let i = 1; i <= 4; i++) {
      const res = await asOf(times[i]).expect(200);
      expect(res.body).toEqual({
        resourceType: 'account',
        resourceId: accountId,
        at: times[i],
        exists: true,
        state: stored(states[i]),
        version: {
          eventId: events[i - 1].id,
          occurredAt: events[i - 1].occurredAt,
          action: events[i - 1].action,
          actorId: 'alice',
        },
        versionsBefore: i,
      });
      // Exactly the event's after state, as the history shows it (decrypted).
      expect(res.body.state).toEqual(events[i - 1].after);
    }
  });

  it('is inclusive of `at`: at an event instant, that event is the version', async () => {
    const events = await history();
    const res = await asOf(events[2].occurredAt).expect(200);
    expect(res.body.version.eventId).toBe(events[2].id);
    expect(res.body.state.name).toBe('Ada Lovelace');
  });

  it('before the creation and after the delete, the record does not exist (200, with the reason)', async () => {
    const before = await asOf(times[0]).expect(200);
    expect(before.body).toMatchObject({
      exists: false,
      state: null,
      version: null,
      versionsBefore: 0,
      reason: 'no history before at',
    });
    const events = await history();
    const after = await asOf(times[5]).expect(200);
    expect(after.body).toMatchObject({
      exists: false,
      state: null,
      version: { eventId: events[4].id, action: 'delete' },
      versionsBefore: 5,
      reason: 'deleted',
    });
    const never = await asOf(times[5], adminA, '00000000-0000-4000-8000-000000000000').expect(200);
    expect(never.body).toMatchObject({ exists: false, version: null, reason: 'no history before at' });
  });

  it('personal values are decrypted, never a ciphertext token', async () => {
    const res = await asOf(times[2]).expect(200);
    expect(res.body.state).toMatchObject({ name: NAME, email: EMAIL, plan: 'pro' });
    expect(JSON.stringify(res.body)).not.toContain('pii:v1:');
    // They are stored encrypted: the state comes from the ciphertext.
    const { rows } = await db.sql.query(
      `SELECT after::text AS after FROM audit_events WHERE resource_id = $1 AND action = 'create'`,
      [accountId],
    );
    expect(rows[0].after).toContain('pii:v1:');
    expect(rows[0].after).not.toContain(EMAIL);
  });

  it('another organization sees no history (as its history is empty); its organizationId needs read:all', async () => {
    const other = await asOf(times[4], adminB).expect(200);
    expect(other.body).toMatchObject({ exists: false, state: null, version: null, versionsBefore: 0 });
    const history = await http()
      .get(`/audit/resources/account/${accountId}/history`)
      .set('Authorization', `Bearer ${adminB}`)
      .expect(200);
    expect(history.body.items).toEqual([]);
    await asOf(times[4], readerA, accountId, { organizationId: 'org-b' }).expect(403);
    await asOf(times[4], readerA, accountId, { organizationId: 'org-a' }).expect(200);
    const root = await token({ sub: 'root', org: 'org-ops', roles: ['audit:read:all'] });
    const all = await asOf(times[4], root, accountId, { organizationId: 'org-a' }).expect(200);
    expect(all.body.state).toEqual(stored(states[4]));
    await http().get(`/audit/resources/account/${accountId}/as-of`).query({ at: times[4] }).expect(401);
    const noRole = await token({ sub: 'alice', org: 'org-a' });
    await asOf(times[4], noRole).expect(403);
  });

  it('the diff between two instants equals the changes recorded in between', async () => {
    const events = await history();
    for (let i = 2; i <= 4; i++) {
      const res = await diff(times[i - 1], times[i]).expect(200);
      expect(res.body.from.state).toEqual(stored(states[i - 1]));
      expect(res.body.to.state).toEqual(stored(states[i]));
      const recorded = (events[i - 1].changes as Json[]).filter((c) => !NOISE.has(c.path));
      const computed = (res.body.changes as Json[]).filter((c) => !NOISE.has(c.path));
      expect(computed).toEqual(recorded);
    }
    // Over several steps: each field once, from its first to its last value.
    const span = await diff(times[1], times[4]).expect(200);
    expect(span.body.changes.filter((c: Json) => !NOISE.has(c.path))).toEqual([
      { path: 'name', before: NAME, after: 'Ada Lovelace' },
      { path: 'plan', before: 'free', after: 'enterprise' },
      { path: 'email', before: EMAIL, after: 'ada@analytical.example.org' },
    ]);
    // Around the creation and the delete: every field appears or disappears.
    const creation = await diff(times[0], times[1]).expect(200);
    expect(creation.body.from.exists).toBe(false);
    expect(creation.body.changes).toContainEqual({ path: 'email', after: EMAIL });
    const deletion = await diff(times[4], times[5]).expect(200);
    expect(deletion.body.to).toMatchObject({ exists: false, reason: 'deleted' });
    expect(deletion.body.changes).toContainEqual({ path: 'plan', before: 'enterprise' });
    const nothing = await diff(times[5], new Date().toISOString()).expect(200);
    expect(nothing.body.changes).toEqual([]);
  });

  it('partial steps: an after without a before state is overlaid on the state before it', async () => {
    const audit = app.get(AuditService);
    const actor = { id: 'svc', organizationId: 'org-a', type: 'service' as const };
    const t = Date.now() - 60_000;
    audit.record({
      action: 'create',
      actor,
      resourceType: 'widget',
      resourceId: 'w-1',
      after: { size: 1, color: 'red', email: 'owner@example.org' },
      occurredAt: new Date(t),
    });
    audit.record({
      action: 'update',
      actor,
      resourceType: 'widget',
      resourceId: 'w-1',
      after: { color: 'blue' },
      occurredAt: new Date(t + 1000),
    });
    await flushAudit(app);
    const res = await http()
      .get('/audit/resources/widget/w-1/as-of')
      .query({ at: new Date(t + 2000).toISOString() })
      .set('Authorization', `Bearer ${adminA}`)
      .expect(200);
    expect(res.body).toMatchObject({
      exists: true,
      state: { size: 1, color: 'blue', email: 'owner@example.org' },
      version: { action: 'update', actorId: 'svc' },
      versionsBefore: 2,
    });
  });

  it('after erasure of the subject, its personal values read [erased]', async () => {
    await http()
      .post(`/audit/subjects/${encodeURIComponent(`account:${accountId}`)}/erase`)
      .set('Authorization', `Bearer ${adminA}`)
      .expect(200);
    const res = await asOf(times[3]).expect(200);
    expect(res.body.state).toMatchObject({ name: '[erased]', email: '[erased]', plan: 'pro' });
    const changes = await diff(times[1], times[3]).expect(200);
    // Both sides erased: the values can no longer be told apart, only the plan still differs.
    expect(changes.body.changes.filter((c: Json) => !NOISE.has(c.path))).toEqual([
      { path: 'plan', before: 'free', after: 'pro' },
    ]);
  });

  it('records each read of the trail as an access event', async () => {
    await flushAudit(app);
    const { rows } = await db.sql.query(
      `SELECT event_type, count(*)::int AS n FROM audit_events
        WHERE resource_type = 'audit-as-of' AND resource_id = $1 GROUP BY event_type ORDER BY event_type`,
      [accountId],
    );
    expect(rows.map((r) => r.event_type)).toEqual(['audit-as-of.diff', 'audit-as-of.read']);
  });

  it('answers a 400 naming the field for every bad parameter', async () => {
    const message = async (req: request.Test) => {
      const res = await req.expect(400);
      return JSON.stringify(res.body.message);
    };
    const url = `/audit/resources/account/${accountId}`;
    const get = (path: string, query: Json) =>
      http().get(`${url}/${path}`).query(query).set('Authorization', `Bearer ${adminA}`);
    expect(await message(get('as-of', {}))).toContain('at must be');
    expect(await message(get('as-of', { at: 'yesterday' }))).toContain('at must be');
    expect(await message(get('as-of', { at: '2026-02-30' }))).toContain('at must be');
    expect(await message(get('as-of', { at: times[1], limit: 5 }))).toContain('limit');
    expect(await message(get('as-of', { at: [times[1], times[2]] }))).toContain('at');
    expect(await message(get('diff', { to: times[2] }))).toContain('from must be');
    expect(await message(get('diff', { from: times[2] }))).toContain('to must be');
    expect(await message(get('diff', { from: times[2], to: times[1] }))).toContain('from must be before to');
    expect(await message(get('diff', { from: times[2], to: times[2] }))).toContain('from must be before to');
    const badPath = await http()
      .get(`/audit/resources/account/${encodeURIComponent('a\u0001b')}/as-of`)
      .query({ at: times[1] })
      .set('Authorization', `Bearer ${adminA}`)
      .expect(400);
    expect(JSON.stringify(badPath.body.message)).toContain('id');
  });
});
