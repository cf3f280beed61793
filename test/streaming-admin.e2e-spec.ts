import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { flushAudit, startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { pollUntil } from './support/poll';
import { deliveryProblems } from './support/receivers/receiver';
import { NatsReceiver, startNatsReceiver } from './support/receivers/nats';

/**
 * Destinations through the admin API with the streamer in the app: who may add what, validation naming
 * the field, secrets never returned, an organization's destination gets only its events, a backfill
 * starts in the past, personal data leaves encrypted unless the destination is allowed it in clear.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('streaming destinations (admin API, scope, backfill, personal data)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let platform: string;
  let adminA: string;
  let adminB: string;
  let readerA: string;
  const receivers: NatsReceiver[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    db = await createTestDatabase();
    Object.assign(process.env, { AUDIT_STREAMING: 'on', AUDIT_STREAMING_POLL_MS: '100' });
    app = await startTestApp(db.url);
    platform = await token({ sub: 'ops', roles: ['audit:platform'] });
    adminA = await token({ sub: 'alice', org: 'org-a', roles: ['audit:admin', 'audit:read'] });
    adminB = await token({ sub: 'bob', org: 'org-b', roles: ['audit:admin', 'audit:read'] });
    readerA = await token({ sub: 'carol', org: 'org-a', roles: ['audit:read'] });
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    for (const receiver of receivers) await receiver.destroy();
    for (const key of ['AUDIT_STREAMING', 'AUDIT_STREAMING_POLL_MS']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  async function receiver(): Promise<NatsReceiver> {
    const r = await startNatsReceiver({ server: 'machine' });
    receivers.push(r);
    return r;
  }

  const api = () => request(app.getHttpServer());

  async function write(
    orgs: Array<string | null>,
    each: number,
    after: Record<string, unknown> = {},
  ): Promise<void> {
    const audit = app.get(AuditService);
    for (const org of orgs)
      for (let i = 0; i < each; i++)
        audit.record({
          action: 'update',
          actor: { id: 'user-1', type: 'user', organizationId: org },
          resourceType: 'customer',
          resourceId: `c-${i}`,
          before: { plan: 'free' },
          after: { plan: 'pro', ...after },
        });
    await flushAudit(app);
  }

  async function idsSince(from: Date, org?: string): Promise<string[]> {
    const { rows } = await db.sql.query<{ id: string }>(
      `SELECT id FROM audit_events WHERE occurred_at >= $1 AND ($2::text IS NULL OR organization_id = $2)
        ORDER BY occurred_at, id`,
      [from, org ?? null],
    );
    return rows.map((row) => row.id);
  }

  it('validates every field, naming it, and never returns a secret', async () => {
    const bad = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({
        name: 'x',
        kind: 'webhook',
        settings: { url: 'ftp://example.com' },
        secret: { secret: 'short' },
      })
      .expect(400);
    expect(bad.body.message).toEqual(
      expect.arrayContaining([
        expect.stringContaining('settings.url'),
        expect.stringContaining('secret.secret'),
      ]),
    );
    const unknownKind = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({ name: 'x', kind: 'carrier-pigeon' })
      .expect(400);
    expect(JSON.stringify(unknownKind.body.message)).toContain('kind');
    await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({ name: 'x', kind: 'webhook', settings: { url: 'https://siem.example.com/hook' }, batchSize: 0 })
      .expect(400);
    await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({ name: 'x', kind: 'webhook', format: 'cef', settings: { url: 'https://siem.example.com/hook' } })
      .expect(400);

    const secret = 'a-webhook-secret-of-at-least-32-characters!';
    const created = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({
        name: 'siem',
        kind: 'webhook',
        settings: { url: 'https://siem.example.com/hook' },
        secret: { secret },
      })
      .expect(201);
    expect(created.body).toMatchObject({
      name: 'siem',
      organizationId: null,
      secretFields: ['secret'],
      source: 'api',
    });
    const listed = await api()
      .get('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .expect(200);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const { rows } = await db.sql.query<{ secret: Buffer }>(
      `SELECT secret FROM audit_stream_destinations WHERE id = $1`,
      [created.body.id],
    );
    expect(rows[0].secret.toString('latin1')).not.toContain(secret);
    await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({
        name: 'siem',
        kind: 'webhook',
        settings: { url: 'https://other.example.com' },
        secret: { secret },
      })
      .expect(409);
    await api()
      .delete(`/audit/destinations/${created.body.id}`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(204);
  });

  it('lets an organization admin manage only its own destinations, and not toward internal addresses', async () => {
    const body = {
      name: 'mine',
      kind: 'webhook',
      settings: { url: 'http://127.0.0.1:9/hook' },
      secret: { secret: 'x'.repeat(40) },
    };
    const internal = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${adminA}`)
      .send(body)
      .expect(400);
    expect(JSON.stringify(internal.body.message)).toContain('127.0.0.1');
    await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${adminA}`)
      .send({ ...body, organizationId: 'org-b', settings: { url: 'https://siem.example.com' } })
      .expect(403);
    await api().post('/audit/destinations').set('Authorization', `Bearer ${readerA}`).send(body).expect(403);
    // 93.184.215.14: a public address, so no DNS is needed for the check.
    const own = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${adminA}`)
      .send({ ...body, settings: { url: 'https://93.184.215.14/hook' } })
      .expect(201);
    expect(own.body.organizationId).toBe('org-a');
    await api()
      .get(`/audit/destinations/${own.body.id}`)
      .set('Authorization', `Bearer ${adminB}`)
      .expect(404);
    const listB = await api().get('/audit/destinations').set('Authorization', `Bearer ${adminB}`).expect(200);
    expect(listB.body).toEqual([]);
    await api()
      .delete(`/audit/destinations/${own.body.id}`)
      .set('Authorization', `Bearer ${adminB}`)
      .expect(404);
    await api()
      .post(`/audit/destinations/${own.body.id}/pause`)
      .set('Authorization', `Bearer ${adminA}`)
      .expect(200);
    await api()
      .delete(`/audit/destinations/${own.body.id}`)
      .set('Authorization', `Bearer ${adminA}`)
      .expect(204);
    await api().get('/audit/destinations/not-a-uuid').set('Authorization', `Bearer ${adminA}`).expect(400);
  });

  it("delivers an organization's destination only its events, and backfills from a date", async () => {
    const before = new Date(Date.now() - 1000);
    await write(['org-a', 'org-b', null], 20);
    const scoped = await receiver();
    const all = await receiver();
    const fresh = await receiver();
    const create = (name: string, r: NatsReceiver, extra: Record<string, unknown>) =>
      api()
        .post('/audit/destinations')
        .set('Authorization', `Bearer ${platform}`)
        .send({ name, ...r.destination('json'), ...extra })
        .expect(201);
    await create('org-a-backfill', scoped, { organizationId: 'org-a', startFrom: before.toISOString() });
    await create('all-backfill', all, { startFrom: before.toISOString() });
    const freshDestination = await create('from-now', fresh, {});
    const startedAt = new Date(freshDestination.body.startFrom as string);
    await write(['org-a', 'org-b', null], 10);

    const expectedAll = await idsSince(before);
    const expectedA = await idsSince(before, 'org-a');
    const expectedFresh = await idsSince(startedAt);
    expect(expectedAll.length).toBeGreaterThanOrEqual(90);
    await pollUntil('all delivered', async () => {
      const counts = await Promise.all(
        [scoped, all, fresh].map(async (r) => new Set((await r.received()).map((e) => e.id)).size),
      );
      return counts[0] >= expectedA.length &&
        counts[1] >= expectedAll.length &&
        counts[2] >= expectedFresh.length
        ? true
        : undefined;
    });
    await sleep(500); // nothing else must arrive
    expect(deliveryProblems(expectedA, await scoped.received())).toEqual([]);
    expect(deliveryProblems(expectedAll, await all.received())).toEqual([]);
    expect(deliveryProblems(expectedFresh, await fresh.received())).toEqual([]);
    expect(expectedFresh.length).toBe(30);
  });

  it('sends personal data encrypted unless the destination may receive it in clear', async () => {
    const encrypted = await receiver();
    const clear = await receiver();
    for (const [name, r, personalData] of [
      ['pii-encrypted', encrypted, 'encrypted'],
      ['pii-clear', clear, 'clear'],
    ] as const)
      await api()
        .post('/audit/destinations')
        .set('Authorization', `Bearer ${platform}`)
        .send({ name, ...r.destination('json'), personalData, organizationId: 'org-p' })
        .expect(201);
    await write(['org-p'], 3, { email: 'alice@example.com', password: 'hunter2' });
    const [sealed, open] = await pollUntil('both received', async () => {
      const got = await Promise.all([encrypted.received(), clear.received()]);
      return got.every((events) => events.length >= 3) ? got : undefined;
    });
    for (const event of sealed) {
      const after = (event.raw as { after: Record<string, string> }).after;
      expect(after.email).toMatch(/^pii:v1:/);
      expect(JSON.stringify(event.raw)).not.toContain('alice@example.com');
      expect(JSON.stringify(event.raw)).not.toContain('hunter2');
    }
    for (const event of open) {
      const after = (event.raw as { after: Record<string, string> }).after;
      expect(after.email).toBe('alice@example.com');
      expect(JSON.stringify(event.raw)).not.toContain('hunter2');
    }
  });
});
