import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const EMAIL = 'ada.revert@example.org';
const NEW_EMAIL = 'countess.revert@example.org';

describe('Revert: through the app handler, recorded as a revert event', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let alice: string; // org-a user of the demo API
  let adminA: string;
  let adminB: string;
  let readerA: string;
  let accountId: string;
  let createEventId: string;
  let updateEventId: string;

  const http = () => request(app.getHttpServer());
  /** The account's history without the reads (GET /accounts/:id is audited too). */
  const history = async (id: string): Promise<Json[]> => {
    await flushAudit(app);
    const res = await http()
      .get(`/audit/resources/account/${id}/history`)
      .set('Authorization', `Bearer ${adminA}`)
      .expect(200);
    return (res.body.items as Json[]).filter((e) => e.action !== 'read');
  };
  const revert = (id: string, body: Json, bearer = adminA, type = 'account') =>
    http().post(`/audit/resources/${type}/${id}/revert`).set('Authorization', `Bearer ${bearer}`).send(body);
  const account = async (id: string) =>
    (await http().get(`/accounts/${id}`).set('Authorization', `Bearer ${alice}`).expect(200)).body as Json;
  const passwordHash = async (id: string) =>
    (await db.sql.query(`SELECT password_hash FROM accounts WHERE id = $1`, [id])).rows[0].password_hash;
  const createAccount = async (plan: string, name = 'Ada') =>
    (
      await http()
        .post('/accounts')
        .set('Authorization', `Bearer ${alice}`)
        .send({ name, email: EMAIL, plan, password: 'first-Passw0rd-1' })
        .expect(201)
    ).body.id as string;
  const update = (id: string, body: Json, requestId?: string) => {
    const req = http().patch(`/accounts/${id}`).set('Authorization', `Bearer ${alice}`);
    if (requestId) req.set('X-Request-Id', requestId);
    return req.send(body).expect(200);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    alice = await token({ sub: 'alice', org: 'org-a' });
    adminA = await token({ sub: 'admin-a', org: 'org-a', roles: ['audit:read', 'audit:admin'] });
    adminB = await token({ sub: 'admin-b', org: 'org-b', roles: ['audit:read', 'audit:admin'] });
    readerA = await token({ sub: 'reader-a', org: 'org-a', roles: ['audit:read'] });

    accountId = await createAccount('free');
    await update(accountId, {
      plan: 'pro',
      name: 'Ada Lovelace',
      email: NEW_EMAIL,
      password: 'second-Passw0rd-2',
    });
    const items = await history(accountId);
    expect(items.map((e) => e.action)).toEqual(['create', 'update']);
    [createEventId, updateEventId] = items.map((e) => e.id);
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('dry run: the diff back to the create (personal values decrypted), the secret skipped, nothing changed', async () => {
    const hashBefore = await passwordHash(accountId);
    const res = await revert(accountId, { toEventId: createEventId, dryRun: true }).expect(200);
    const body = res.body as Json;
    expect(body.dryRun).toBe(true);
    expect(body.revertsEventIds).toEqual([updateEventId]);
    const byPath = Object.fromEntries(body.changes.map((c: Json) => [c.path, c]));
    expect(Object.keys(byPath).sort()).toEqual(['email', 'name', 'plan']);
    expect(byPath.plan).toEqual({ path: 'plan', before: 'pro', after: 'free' });
    expect(byPath.name).toEqual({ path: 'name', before: 'Ada Lovelace', after: 'Ada' });
    expect(byPath.email).toEqual({ path: 'email', before: NEW_EMAIL, after: EMAIL });
    expect(body.skipped).toContainEqual({ path: 'passwordHash', why: 'redacted' });
    expect(body.skipped).toContainEqual({ path: 'passwordUpdatedAt', why: 'read-only' });
    expect(body.currentState.plan).toBe('pro');
    expect(body.targetState).toMatchObject({
      plan: 'free',
      name: 'Ada',
      email: EMAIL,
      passwordHash: '[REDACTED]',
    });
    expect(JSON.stringify(body)).not.toContain('scrypt$');

    expect(await account(accountId)).toMatchObject({ plan: 'pro', name: 'Ada Lovelace', email: NEW_EMAIL });
    expect(await passwordHash(accountId)).toBe(hashBefore);
    expect((await history(accountId)).map((e) => e.action)).toEqual(['create', 'update']);
    // The dry run is itself an audited read.
    const { rows } = await db.sql.query(
      `SELECT actor_id, action, metadata FROM audit_events WHERE event_type = 'audit-revert.preview' AND resource_id = $1`,
      [`account:${accountId}`],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_id: 'admin-a', action: 'read' });
    expect(rows[0].metadata).toMatchObject({ toEventId: createEventId, changes: 3 });
  });

  it('executes through the handler: the row is restored, one revert event links the undone events', async () => {
    const hashBefore = await passwordHash(accountId);
    const res = await revert(accountId, { toEventId: createEventId, reason: 'customer asked' }).expect(200);
    const body = res.body as Json;
    expect(body.dryRun).toBe(false);
    expect(body.revertEventIds).toHaveLength(1);
    expect(body.result).toMatchObject({ id: accountId, plan: 'free', name: 'Ada', email: EMAIL });
    expect(body.result.passwordHash).toBeUndefined();
    expect(await account(accountId)).toMatchObject({ plan: 'free', name: 'Ada', email: EMAIL });
    expect(await passwordHash(accountId)).toBe(hashBefore); // never written

    const items = await history(accountId);
    expect(items.map((e) => e.action)).toEqual(['create', 'update', 'revert']);
    const event = items[2];
    expect(event).toMatchObject({
      id: body.revertEventIds[0],
      eventType: 'account.revert',
      actorId: 'admin-a',
      organizationId: 'org-a',
      status: 'success',
      requestId: res.headers['x-request-id'],
    });
    expect(event.metadata).toMatchObject({
      reverts: [updateEventId],
      toEventId: createEventId,
      reason: 'customer asked',
    });
    const changed = Object.fromEntries(event.changes.map((c: Json) => [c.path, c]));
    expect(changed.plan).toMatchObject({ before: 'pro', after: 'free' });
    expect(changed.email).toMatchObject({ before: NEW_EMAIL, after: EMAIL });
    expect(event.after.passwordHash).toBe('[REDACTED]');
    // The email is stored encrypted in the revert event too.
    const { rows } = await db.sql.query(`SELECT after::text AS after FROM audit_events WHERE id = $1`, [
      event.id,
    ]);
    expect(rows[0].after).not.toContain(EMAIL);

    // Nothing left to restore: a conflict, nothing recorded.
    const again = await revert(accountId, { toEventId: createEventId }).expect(409);
    expect(again.body.message).toContain('Nothing to revert');
  });

  it('undoes one event; a field changed again since is skipped, not clobbered', async () => {
    const id = await createAccount('free', 'Grace');
    await update(id, { plan: 'pro', name: 'Grace H' });
    await update(id, { name: 'Grace Hopper' });
    const [, first] = await history(id);
    const res = await revert(id, { undoEventId: first.id, dryRun: true }).expect(200);
    expect(res.body.changes).toEqual([{ path: 'plan', before: 'pro', after: 'free' }]);
    expect(res.body.skipped).toContainEqual({ path: 'name', why: 'changed-since' });
    expect(res.body.revertsEventIds).toEqual([first.id]);
    await revert(id, { undoEventId: first.id }).expect(200);
    expect(await account(id)).toMatchObject({ plan: 'free', name: 'Grace Hopper' });
  });

  it('undoes every update of one request (dry run first)', async () => {
    const id = await createAccount('free', 'Linus');
    await update(id, { plan: 'pro', name: 'Linus T' }, 'req-revert-undo-1');
    await update(id, { email: NEW_EMAIL }); // a later request: kept
    const undo = (body: Json, bearer = adminA) =>
      http()
        .post('/audit/requests/req-revert-undo-1/revert')
        .set('Authorization', `Bearer ${bearer}`)
        .send(body);

    const preview = await undo({ dryRun: true }).expect(200);
    expect(preview.body).toMatchObject({ dryRun: true, requestId: 'req-revert-undo-1', skipped: [] });
    expect(preview.body.resources).toHaveLength(1);
    expect(preview.body.resources[0].changes).toEqual(
      expect.arrayContaining([
        { path: 'plan', before: 'pro', after: 'free' },
        { path: 'name', before: 'Linus T', after: 'Linus' },
      ]),
    );
    expect(await account(id)).toMatchObject({ plan: 'pro', name: 'Linus T' });

    await undo({}, readerA).expect(403);
    await undo({}, adminB).expect(404);
    const done = await undo({ reason: 'bad bulk edit' }).expect(200);
    expect(done.body.revertEventIds).toHaveLength(1);
    expect(await account(id)).toMatchObject({ plan: 'free', name: 'Linus', email: NEW_EMAIL });
    const last = (await history(id)).at(-1)!;
    expect(last).toMatchObject({ action: 'revert', actorId: 'admin-a' });
    expect(last.metadata).toMatchObject({ undoRequestId: 'req-revert-undo-1', reason: 'bad bulk edit' });

    // A request that created the record: its create is not undone.
    const created = await http()
      .post('/accounts')
      .set('Authorization', `Bearer ${alice}`)
      .set('X-Request-Id', 'req-revert-create-1')
      .send({ name: 'New', email: 'new.revert@example.org', plan: 'free', password: 'first-Passw0rd-1' })
      .expect(201);
    const skipped = await http()
      .post('/audit/requests/req-revert-create-1/revert')
      .set('Authorization', `Bearer ${adminA}`)
      .send({ dryRun: true })
      .expect(200);
    expect(skipped.body.resources).toEqual([]);
    expect(skipped.body.skipped).toEqual([
      { resourceType: 'account', resourceId: created.body.id, why: 'create', eventIds: [expect.any(String)] },
    ]);
  });

  it('a refusal by the handler is a 422 with its message, recorded as a failed revert; nothing changes', async () => {
    const id = await createAccount('enterprise', 'Big Co');
    await update(id, { plan: 'pro' });
    const [created] = await history(id);
    const res = await revert(id, { toEventId: created.id }).expect(422);
    expect(res.body.message).toContain('plan enterprise is only set by a contract');
    expect(JSON.stringify(res.body)).not.toContain(' at ');
    expect(await account(id)).toMatchObject({ plan: 'pro' });
    const last = (await history(id)).at(-1)!;
    expect(last).toMatchObject({
      action: 'revert',
      status: 'failure',
      actorId: 'admin-a',
      before: null,
      after: null,
    });
    expect(last.errorMessage).toContain('enterprise');
  });

  it('is for audit:admin in its own organization; other inputs are 4xx naming what is wrong', async () => {
    await revert(accountId, { toEventId: createEventId, dryRun: true }, readerA).expect(403);
    // Another organization's resource and event: not found.
    const other = await revert(accountId, { toEventId: createEventId, dryRun: true }, adminB).expect(404);
    expect(other.body.message).toContain('toEventId');
    // An event of another resource.
    const id = await createAccount('free', 'Someone');
    await revert(id, { toEventId: createEventId, dryRun: true }).expect(404);

    const unknown = await revert(
      accountId,
      { toEventId: createEventId, dryRun: true },
      adminA,
      'invoice',
    ).expect(422);
    expect(unknown.body.message).toContain("resourceType 'invoice'");

    const both = await revert(accountId, { toEventId: createEventId, undoEventId: updateEventId }).expect(
      400,
    );
    expect(both.body.message.join()).toContain('toEventId');
    const none = await revert(accountId, { dryRun: true }).expect(400);
    expect(none.body.message.join()).toContain('toEventId');
    const bad = await revert(accountId, { toEventId: 'nope' }).expect(400);
    expect(bad.body.message).toContain('toEventId must be a UUID');
    const extra = await revert(accountId, { toEventId: createEventId, plan: 'free' }).expect(400);
    expect(extra.body.message.join()).toContain('plan');
    const undoCreate = await revert(accountId, { undoEventId: createEventId }).expect(409);
    expect(undoCreate.body.message).toContain('undoEventId');

    const badRequestId = await http()
      .post('/audit/requests/bad%20id/revert')
      .set('Authorization', `Bearer ${adminA}`)
      .send({})
      .expect(400);
    expect(badRequestId.body.message.join()).toContain('requestId');
  });

  it('a deleted record is not restored', async () => {
    const id = await createAccount('free', 'Gone');
    await update(id, { plan: 'pro' });
    const [created] = await history(id);
    await http().delete(`/accounts/${id}`).set('Authorization', `Bearer ${alice}`).expect(204);
    const res = await revert(id, { toEventId: created.id, dryRun: true }).expect(409);
    expect(res.body.message).toContain('was deleted');
  });
});
