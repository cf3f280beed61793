import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { flushAudit, startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { pollUntil } from './support/poll';
import { deliveryProblems } from './support/receivers/receiver';
import { HttpTestReceiver, startWebhookReceiver } from './support/receivers/http-receiver';

/**
 * What the streamer does when a receiver says no, against a real HTTP receiver: a refused event is split
 * out of its batch and dead-lettered alone (the rest delivered in order), then replayed with the CLI; a
 * busy receiver's Retry-After is waited out; refused credentials pause the destination (status, health),
 * and resuming it delivers what waited. The test-send endpoint reports both outcomes.
 */
const CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'nest-audit-trail.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('streaming failures: dead letters and replay, Retry-After, pause and resume', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let platform: string;
  let receiver: HttpTestReceiver;
  const saved = { ...process.env };

  beforeAll(async () => {
    db = await createTestDatabase();
    Object.assign(process.env, {
      AUDIT_STREAMING: 'on',
      AUDIT_STREAMING_POLL_MS: '100',
      AUDIT_STREAMING_READY_MAX_LAG_MS: '60000',
    });
    app = await startTestApp(db.url);
    platform = await token({ sub: 'ops', roles: ['audit:platform'] });
    receiver = await startWebhookReceiver();
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await receiver?.destroy();
    for (const key of ['AUDIT_STREAMING', 'AUDIT_STREAMING_POLL_MS', 'AUDIT_STREAMING_READY_MAX_LAG_MS']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  const api = () => request(app.getHttpServer());
  const status = async (id: string) =>
    (await api().get(`/audit/destinations/${id}`).set('Authorization', `Bearer ${platform}`).expect(200))
      .body;

  async function write(count: number, org = 'org-f'): Promise<string[]> {
    const audit = app.get(AuditService);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const event = audit.record({
        action: 'update',
        actor: { id: 'user-1', type: 'user', organizationId: org },
        resourceType: 'order',
        resourceId: `o-${i}`,
        after: { n: i },
      });
      ids.push(event!.id);
    }
    await flushAudit(app);
    return ids;
  }

  it('dead-letters only the refused event, delivers the rest in order, and replays it from the CLI', async () => {
    const created = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({ name: 'webhook-dlq', ...receiver.destination('json'), organizationId: 'org-f', batchSize: 40 })
      .expect(201);
    const id = created.body.id as string;
    await api()
      .post(`/audit/destinations/${id}/pause`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(200);
    const ids = await write(40);
    const poison = ids[17];
    receiver.refuseEvent(poison);
    await api()
      .post(`/audit/destinations/${id}/resume`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(200);

    await pollUntil('39 delivered and one dead letter', async () => {
      const s = await status(id);
      return s.status.deadLetters === 1 && s.status.pendingEvents === 0 ? s : undefined;
    });
    const received = await receiver.received();
    expect(
      deliveryProblems(
        ids.filter((e) => e !== poison),
        received,
      ),
    ).toEqual([]);
    expect(receiver.problems()).toEqual([]);
    const letters = await api()
      .get(`/audit/destinations/${id}/dead-letters`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(200);
    expect(letters.body).toEqual([
      expect.objectContaining({ eventId: poison, organizationId: 'org-f', statusCode: 400 }),
    ]);
    // Split down to the one event by halves: one refusal per level (40, 20, 10, 5, 3 or 2, 2 or 1, 1).
    const refusals = receiver.requests().filter((r) => r.status === 400);
    expect(refusals.length).toBeGreaterThanOrEqual(6);
    expect(refusals.length).toBeLessThanOrEqual(7);

    // The receiver is fixed; the operator replays from the command line.
    (receiver as unknown as { refused: Set<string> }).refused.delete(poison);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'replay', 'webhook-dlq', '--org', 'org-f'],
      {
        env: { ...process.env, DATABASE_URL: db.url },
      },
    );
    expect(JSON.parse(stdout)).toEqual({ destination: id, requested: 1 });
    await pollUntil('the dead letter replayed', async () =>
      (await status(id)).status.deadLetters === 0 ? true : undefined,
    );
    expect((await receiver.received()).filter((e) => e.id === poison)).toHaveLength(1);
    const bad = await promisify(execFile)(process.execPath, [CLI, 'replay', 'no-such-destination'], {
      env: { ...process.env, DATABASE_URL: db.url },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(bad).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('No destination no-such-destination'),
    });
  });

  it("waits out a busy receiver's Retry-After, then delivers", async () => {
    const created = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({ name: 'webhook-busy', ...receiver.destination('json'), organizationId: 'org-r' })
      .expect(201);
    receiver.failNext(1, { status: 503, retryAfter: '2' });
    const started = Date.now();
    const ids = await write(5, 'org-r');
    await pollUntil('delivered after the wait', async () => {
      const got = new Set((await receiver.received()).map((e) => e.id));
      return ids.every((e) => got.has(e)) ? true : undefined;
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    const s = await status(created.body.id);
    expect(s.status.failedAttempts).toBe(1);
    expect(s.status.lastError).toContain('503');
  });

  it('pauses on refused credentials (status and health say why), and delivers everything once resumed', async () => {
    const created = await api()
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({ name: 'webhook-auth', ...receiver.destination('json'), organizationId: 'org-p' })
      .expect(201);
    const id = created.body.id as string;
    receiver.failNext(1, { status: 401, body: 'bad signature' });
    const ids = await write(10, 'org-p');
    const paused = await pollUntil('paused', async () => {
      const s = await status(id);
      return s.status.state === 'paused' ? s : undefined;
    });
    expect(paused.status.reason).toContain('401');
    const health = await api().get('/health/streaming').expect(503);
    expect(JSON.stringify(health.body)).toContain('org-p/webhook-auth is paused');
    await sleep(500);
    expect((await status(id)).status.pendingEvents).toBe(10);

    const test = await api()
      .post(`/audit/destinations/${id}/test`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(200);
    expect(test.body).toMatchObject({ ok: true });
    receiver.failNext(1, { status: 401 });
    const refused = await api()
      .post(`/audit/destinations/${id}/test`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(200);
    expect(refused.body).toMatchObject({ ok: false, failure: 'pause', statusCode: 401 });

    await api()
      .post(`/audit/destinations/${id}/resume`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(200);
    await pollUntil('delivered after resume', async () => {
      const got = new Set((await receiver.received()).map((e) => e.id));
      return ids.every((e) => got.has(e)) ? true : undefined;
    });
    await pollUntil('healthy again', async () =>
      (await api().get('/health/streaming')).status === 200 ? true : undefined,
    );
  });
});
