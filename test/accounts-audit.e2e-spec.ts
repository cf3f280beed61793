import { INestApplication } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

const PASSWORD = 'Sup3r-Secret-Passw0rd-7731';

// The events API's JSON, loosely typed for assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AuditEventJson = Record<string, any>;

describe('@Audited() on the demo accounts', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let alice: string; // org-a user
  let bob: string; // org-b user
  let auditorA: string;
  let auditorB: string;

  const http = () => request(app.getHttpServer());
  const events = async (query: Record<string, string>, bearer = auditorA) => {
    await flushAudit(app);
    const res = await http()
      .get('/audit/events')
      .query(query)
      .set('Authorization', `Bearer ${bearer}`)
      .expect(200);
    return res.body.items as AuditEventJson[];
  };
  const createAccount = async (body: Record<string, unknown> = {}) =>
    (
      await http()
        .post('/accounts')
        .set('Authorization', `Bearer ${alice}`)
        .send({ name: 'Ada', email: 'ada@example.com', plan: 'free', password: PASSWORD, ...body })
        .expect(201)
    ).body as { id: string };

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    alice = await token({ sub: 'alice', org: 'org-a' });
    bob = await token({ sub: 'bob', org: 'org-b' });
    auditorA = await token({ sub: 'auditor-a', org: 'org-a', roles: ['audit:read'] });
    auditorB = await token({ sub: 'auditor-b', org: 'org-b', roles: ['audit:read'] });
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('records a create with the after state, the actor, the tenant and the echoed request id', async () => {
    const res = await http()
      .post('/accounts')
      .set('Authorization', `Bearer ${alice}`)
      .set('X-Request-Id', 'req-create-1')
      .set('User-Agent', 'jest-agent')
      .send({ name: 'Ada', email: 'ada@example.com', plan: 'free', password: PASSWORD })
      .expect(201);
    expect(res.headers['x-request-id']).toBe('req-create-1');
    expect(res.body.passwordHash).toBeUndefined();

    const [event] = await events({ resourceId: res.body.id, action: 'create' });
    expect(event).toMatchObject({
      action: 'create',
      eventType: 'account.create',
      resourceType: 'account',
      resourceId: res.body.id,
      actorId: 'alice',
      actorType: 'user',
      organizationId: 'org-a',
      status: 'success',
      statusCode: 201,
      requestId: 'req-create-1',
      userAgent: 'jest-agent',
      method: 'POST',
      route: '/accounts',
      before: null,
      changes: null,
    });
    expect(event.after).toMatchObject({
      id: res.body.id,
      name: 'Ada',
      plan: 'free',
      email: 'ada@example.com',
    });
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/); // UUIDv7
    expect(event.durationMs).toBeGreaterThanOrEqual(0);
    expect(['127.0.0.1', '::1']).toContain(event.ip);
  });

  it('generates a request id when none (or a malformed one) is sent', async () => {
    const res = await http()
      .get('/accounts')
      .set('Authorization', `Bearer ${alice}`)
      .set('X-Request-Id', 'bad id with spaces');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('records an update with before, after and a field-level diff; the before state is redacted', async () => {
    const account = await createAccount();
    await http()
      .patch(`/accounts/${account.id}`)
      .set('Authorization', `Bearer ${alice}`)
      .send({ plan: 'pro', name: 'Ada L.' })
      .expect(200);

    const [event] = await events({ resourceId: account.id, action: 'update' });
    expect(event.before).toMatchObject({ plan: 'free', name: 'Ada', passwordHash: '[REDACTED]' });
    expect(event.after).toMatchObject({ plan: 'pro', name: 'Ada L.' });
    const paths = (event.changes as Array<{ path: string }>).map((c) => c.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['name', 'plan']));
    expect(event.changes).toEqual(
      expect.arrayContaining([
        { path: 'plan', before: 'free', after: 'pro' },
        { path: 'name', before: 'Ada', after: 'Ada L.' },
      ]),
    );
  });

  it('does not record an update that changes nothing', async () => {
    const account = await createAccount({ plan: 'pro' });
    await http()
      .patch(`/accounts/${account.id}`)
      .set('Authorization', `Bearer ${alice}`)
      .send({ plan: 'pro' })
      .expect(200);
    await http()
      .patch(`/accounts/${account.id}`)
      .set('Authorization', `Bearer ${alice}`)
      .send({ plan: 'enterprise' })
      .expect(200);
    const updates = await events({ resourceId: account.id, action: 'update' });
    expect(updates).toHaveLength(1);
    expect(updates[0].changes).toEqual(
      expect.arrayContaining([{ path: 'plan', before: 'pro', after: 'enterprise' }]),
    );
  });

  it('records single reads and list reads with the count and the returned ids', async () => {
    const account = await createAccount();
    await http().get(`/accounts/${account.id}`).set('Authorization', `Bearer ${alice}`).expect(200);
    const list = await http().get('/accounts').set('Authorization', `Bearer ${alice}`).expect(200);

    const [read] = await events({ resourceId: account.id, action: 'read' });
    expect(read).toMatchObject({
      action: 'read',
      eventType: 'account.read',
      status: 'success',
      statusCode: 200,
    });
    const [listed] = await events({ resourceType: 'account', action: 'list' });
    expect(listed.metadata.count).toBe(list.body.length);
    expect(listed.metadata.ids).toEqual(list.body.map((a: { id: string }) => a.id));
  });

  it('records a delete with the before state and no after state', async () => {
    const account = await createAccount({ name: 'To delete' });
    await http().delete(`/accounts/${account.id}`).set('Authorization', `Bearer ${alice}`).expect(204);
    const [event] = await events({ resourceId: account.id, action: 'delete' });
    expect(event).toMatchObject({ status: 'success', statusCode: 204, after: null });
    expect(event.before).toMatchObject({ id: account.id, name: 'To delete' });
  });

  it('records failures with the status and message, and the client sees the usual error', async () => {
    const missing = '0190a0a0-0000-7000-8000-000000000000';
    const notFound = await http()
      .patch(`/accounts/${missing}`)
      .set('Authorization', `Bearer ${alice}`)
      .send({ plan: 'pro' })
      .expect(404);
    expect(notFound.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: `Account ${missing} not found`,
    });

    const invalid = await http()
      .post('/accounts')
      .set('Authorization', `Bearer ${alice}`)
      .send({ name: 'X', email: 'not-an-email', plan: 'gold', password: PASSWORD })
      .expect(400);
    expect(invalid.body.message.join(' ')).toMatch(/email/);
    expect(invalid.body.message.join(' ')).toMatch(/plan/);

    const [failedUpdate] = await events({ resourceId: missing, action: 'update' });
    expect(failedUpdate).toMatchObject({
      status: 'failure',
      statusCode: 404,
      errorMessage: `Account ${missing} not found`,
      before: null,
      after: null,
    });
    const failures = await events({ action: 'create', status: 'failure' });
    expect(failures[0]).toMatchObject({ statusCode: 400, status: 'failure' });
    expect(failures[0].errorMessage).toMatch(/plan/);
  });

  it('keeps tenants apart: another org neither sees the events nor leaks state into its own trail', async () => {
    const account = await createAccount({ name: 'Org A only' });
    await http()
      .patch(`/accounts/${account.id}`)
      .set('Authorization', `Bearer ${bob}`)
      .send({ plan: 'pro' })
      .expect(404);

    const seenByB = await events({}, auditorB);
    expect(seenByB.every((e) => e.organizationId === 'org-b')).toBe(true);
    const failed = seenByB.find((e) => e.resourceId === account.id);
    expect(failed).toMatchObject({ status: 'failure', before: null });
    expect(JSON.stringify(seenByB)).not.toContain('Org A only');

    await http()
      .get('/audit/events')
      .query({ organizationId: 'org-a' })
      .set('Authorization', `Bearer ${auditorB}`)
      .expect(403);
  });

  it('believes X-Forwarded-For only from trusted proxies', async () => {
    const res = await http()
      .get('/accounts')
      .set('Authorization', `Bearer ${alice}`)
      .set('X-Forwarded-For', '203.0.113.9');
    const [event] = (await events({ action: 'list' })).filter(
      (e) => e.requestId === res.headers['x-request-id'],
    );
    expect(event.ip).not.toBe('203.0.113.9');
  });

  it('guards the events API: 401 without a token, 403 without an audit role, 400 on bad input', async () => {
    await http().get('/audit/events').expect(401);
    await http().get('/audit/events').set('Authorization', 'Bearer not-a-jwt').expect(401);
    await http().get('/audit/events').set('Authorization', `Bearer ${alice}`).expect(403);
    const bad = await http()
      .get('/audit/events')
      .query({ limit: 5000 })
      .set('Authorization', `Bearer ${auditorA}`)
      .expect(400);
    expect(bad.body.message.join(' ')).toMatch(/limit/);
    const unknown = await http()
      .get('/audit/events')
      .query({ foo: 1 })
      .set('Authorization', `Bearer ${auditorA}`)
      .expect(400);
    expect(unknown.body.message.join(' ')).toMatch(/foo/);
  });

  it('pages with an opaque keyset cursor: no gaps, no duplicates, forged cursors are a 400', async () => {
    // Only the accounts' events: reading the trail adds access events of its own while we page.
    const all = await events({ resourceType: 'account', limit: '1000' });
    expect(all.length).toBeGreaterThan(6);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await http()
        .get('/audit/events')
        .query({ resourceType: 'account', limit: 3, ...(cursor ? { cursor } : {}) })
        .set('Authorization', `Bearer ${auditorA}`)
        .expect(200);
      seen.push(...res.body.items.map((e: { id: string }) => e.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((e) => e.id));

    const first = await http()
      .get('/audit/events')
      .query({ limit: 2 })
      .set('Authorization', `Bearer ${auditorA}`);
    const forged = `${first.body.nextCursor.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    await http()
      .get('/audit/events')
      .query({ cursor: forged })
      .set('Authorization', `Bearer ${auditorA}`)
      .expect(400);
    // A valid cursor of org A is foreign to org B.
    await http()
      .get('/audit/events')
      .query({ limit: 2, cursor: first.body.nextCursor })
      .set('Authorization', `Bearer ${auditorB}`)
      .expect(400);
  });

  it('never lets a password reach the database (pg_dump of the whole database)', async () => {
    const account = await createAccount();
    await http()
      .patch(`/accounts/${account.id}`)
      .set('Authorization', `Bearer ${alice}`)
      .send({ password: `${PASSWORD}-new` })
      .expect(200);
    await flushAudit(app);
    const dump = execFileSync('pg_dump', ['--data-only', db.url], {
      maxBuffer: 256 * 1024 * 1024,
    }).toString();
    expect(dump).toContain(account.id); // the dump does hold the audit data...
    expect(dump).not.toContain(PASSWORD); // ...but not the password, old or new
    const { rows } = await db.sql.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE before::text LIKE '%scrypt$%'`,
    );
    expect(rows[0].n).toBe(0); // nor the hash
  });
});
