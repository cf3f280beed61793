import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { flushAudit, startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { freePort, MAIN_JS, ServiceProcess, startService, waitForHttp } from './support/process';
import { deliveryProblems, TestReceiver } from './support/receivers/receiver';
import { startNatsReceiver } from './support/receivers/nats';
import { startS3Receiver } from './support/receivers/s3';

/**
 * The streamer end to end, per destination kind against its real receiver: a destination added with one
 * admin API call; the streamer a real process (`npm start`'s file) killed with SIGKILL mid-delivery and
 * started again; the receiver down for a while; events written all along. Then every event of the trail
 * since the destination's start arrived, none extra after dedupe by id, in chain order per organization,
 * and the status says up to date.
 */
const ORGS = ['org-a', 'org-b', 'org-c', null] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('streaming to real receivers: kills, outages, order, no loss', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let platform: string;
  const saved = process.env.AUDIT_STREAMING;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The in-process app writes events and serves the admin API; the streamer runs in child processes.
    process.env.AUDIT_STREAMING = 'off';
    app = await startTestApp(db.url);
    platform = await token({ sub: 'ops', roles: ['audit:platform', 'audit:read:all'] });
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    if (saved === undefined) delete process.env.AUDIT_STREAMING;
    else process.env.AUDIT_STREAMING = saved;
  });

  let wave = 0;
  /** `count` events over the organizations, committed (and sealed) when it resolves. */
  async function writeEvents(count: number): Promise<void> {
    const audit = app.get(AuditService);
    wave++;
    for (let i = 0; i < count; i++) {
      const org = ORGS[i % ORGS.length];
      audit.record({
        action: i % 3 === 0 ? 'create' : 'update',
        actor: { id: `user-${i % 7}`, type: 'user', organizationId: org },
        resourceType: 'invoice',
        resourceId: `inv-${wave}-${i}`,
        before: { total: i },
        after: { total: i + 1, note: 'a "quoted" | piped = value\nwith a newline, ünïcödé' },
        requestId: `req-${wave}-${i}`,
      });
      if (i % 200 === 199) await flushAudit(app);
    }
    await flushAudit(app);
  }

  function startStreamer(port: number): ServiceProcess {
    return startService(
      {
        DATABASE_URL: db.url,
        PORT: String(port),
        AUDIT_STREAMING: 'on',
        AUDIT_STREAMING_POLL_MS: '200',
        LOG_LEVEL: 'warn',
      },
      MAIN_JS,
    );
  }

  async function streamerUp(port: number, service: ServiceProcess): Promise<void> {
    await waitForHttp(`http://127.0.0.1:${port}/health/live`, service);
  }

  async function scenario(receiver: TestReceiver, format: 'json' | 'ocsf' | 'cef' = 'json'): Promise<void> {
    const server = app.getHttpServer();
    const target = receiver.destination(format);
    const name = `${receiver.name}-${format}`.replace(/[^A-Za-z0-9._-]+/g, '-');
    const created = await request(server)
      .post('/audit/destinations')
      .set('Authorization', `Bearer ${platform}`)
      .send({ name, ...target, batchSize: 50 });
    expect({ status: created.status, body: created.status === 201 ? null : created.body }).toEqual({
      status: 201,
      body: null,
    });
    const id = created.body.id as string;
    const startFrom = new Date(created.body.startFrom as string);
    expect(created.body.secretFields).toEqual(Object.keys(target.secret).sort());
    expect(JSON.stringify(created.body)).not.toContain(Object.values(target.secret)[0] ?? '\u0000');

    const port = await freePort();
    let streamer = startStreamer(port);
    await streamerUp(port, streamer);
    await writeEvents(1200);
    // SIGKILL once delivery is under way, not finished.
    await eventually('a first delivery', async () =>
      (await receiver.received()).length > 0 ? true : undefined,
    );
    streamer.child.kill('SIGKILL');
    await streamer.exited;
    const beforeKill = (await receiver.received()).length;
    await writeEvents(400);
    streamer = startStreamer(port);
    await streamerUp(port, streamer);
    // The receiver goes down while events keep coming, then comes back.
    await receiver.stop();
    await writeEvents(400);
    await sleep(1500);
    await receiver.start();

    try {
      const { rows } = await db.sql.query<{ id: string }>(
        `SELECT id FROM audit_events WHERE occurred_at >= $1 ORDER BY occurred_at, id`,
        [startFrom],
      );
      const expected = rows.map((row) => row.id);
      expect(expected.length).toBeGreaterThanOrEqual(2000);
      await eventually(
        'every event at the receiver',
        async () => {
          const got = new Set((await receiver.received()).map((e) => e.id));
          return expected.every((e) => got.has(e)) ? true : undefined;
        },
        90_000,
      );
      const received = await receiver.received();
      expect(deliveryProblems(expected, received)).toEqual([]);
      expect(beforeKill).toBeLessThan(expected.length);

      const status = await eventually('status up to date', async () => {
        const { body } = await request(server)
          .get(`/audit/destinations/${id}`)
          .set('Authorization', `Bearer ${platform}`)
          .expect(200);
        return body.status.pendingEvents === 0 && body.status.lastSuccessAt ? body : undefined;
      });
      expect(status.status).toMatchObject({ state: 'active', lagSeconds: 0, deadLetters: 0 });
      expect(status.status.deliveredEvents).toBeGreaterThanOrEqual(expected.length);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`audit_stream_delivered_events_total\\{destination="${name}",organization="\\*"\\} \\d+`),
      );
      expect(metrics).toMatch(/audit_stream_send_failures_total\{[^}]*failure="retry"\} [1-9]/);
    } finally {
      streamer.child.kill('SIGTERM');
      await streamer.exited;
      await request(server)
        .delete(`/audit/destinations/${id}`)
        .set('Authorization', `Bearer ${platform}`)
        .expect(204);
    }
  }

  it('NATS JetStream (own nats-server killed and restarted)', async () => {
    const receiver = await startNatsReceiver();
    try {
      await scenario(receiver, 'json');
    } finally {
      await receiver.destroy();
    }
  }, 180_000);

  it('S3 (s3rver stopped and restarted)', async () => {
    const receiver = await startS3Receiver();
    try {
      await scenario(receiver, 'json');
    } finally {
      await receiver.destroy();
    }
  }, 180_000);
});
