import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { flushAudit, startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { pollUntil } from './support/poll';
import { freePort, MAIN_JS, ServiceProcess, startService, waitForHttp } from './support/process';
import {
  deliveryProblems,
  MissingEvent,
  missingEventsReport,
  TestReceiver,
} from './support/receivers/receiver';
import { startNatsReceiver } from './support/receivers/nats';
import { startS3Receiver } from './support/receivers/s3';
import {
  startDatadogReceiver,
  startSplunkHecReceiver,
  startWebhookReceiver,
} from './support/receivers/http-receiver';
import { startRsyslogReceiver } from './support/receivers/rsyslog';

/**
 * The streamer end to end, per destination kind against its real receiver: a destination added with one
 * admin API call; the streamer a real process (`npm start`'s file) killed with SIGKILL mid-delivery and
 * started again; the receiver down for a while; events written all along. Then every event of the trail
 * since the destination's start arrived, none extra after dedupe by id, in chain order per organization,
 * and the status says up to date.
 */
const ORGS = ['org-a', 'org-b', 'org-c', null] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

  /** A timed-out wait for every event, explained: what is missing (seals, organizations), status, logs. */
  async function whyMissing(
    id: string,
    name: string,
    receiver: TestReceiver,
    expected: string[],
    streamer: ServiceProcess,
  ): Promise<string> {
    const received = await receiver.received();
    const got = new Set(received.map((e) => e.id));
    const { rows: missing } = await db.sql.query<MissingEvent>(
      `SELECT e.id, e.organization_id AS "organizationId", s.seq::text AS "sealSeq"
         FROM audit_events e
         LEFT JOIN audit_seals s ON s.batch_id = e.batch_id AND s.org_key = coalesce(e.organization_id, '')
        WHERE e.id = ANY($1::uuid[])
        ORDER BY s.seq, e.occurred_at, e.id`,
      [expected.filter((e) => !got.has(e))],
    );
    const { body: status } = await request(app.getHttpServer())
      .get(`/audit/destinations/${id}`)
      .set('Authorization', `Bearer ${platform}`);
    const streamerLog = streamer
      .output()
      .split('\n')
      .filter((line) => line.includes(name))
      .join('\n');
    return missingEventsReport({
      name,
      expected: expected.length,
      received,
      missing,
      status: status?.status ?? status,
      receiverLog: receiver.daemonLog?.(),
      streamerLog,
    });
  }

  /** Every receiver at once: one streamer process delivers every destination through the same kills and outages. */
  async function scenario(
    targets: Array<{ receiver: TestReceiver; format: 'json' | 'ocsf' | 'cef' }>,
  ): Promise<void> {
    const server = app.getHttpServer();
    const destinations: Array<{ id: string; name: string; receiver: TestReceiver }> = [];
    let startFrom = new Date(8.64e15);
    for (const { receiver, format } of targets) {
      const target = receiver.destination(format);
      const name = `${receiver.name}-${format}`.replace(/[^A-Za-z0-9._-]+/g, '-');
      const created = await request(server)
        .post('/audit/destinations')
        .set('Authorization', `Bearer ${platform}`)
        .send({ name, ...target, batchSize: 50 });
      expect({ name, status: created.status, body: created.status === 201 ? null : created.body }).toEqual({
        name,
        status: 201,
        body: null,
      });
      expect(created.body.secretFields).toEqual(Object.keys(target.secret).sort());
      for (const secret of Object.values(target.secret))
        expect(JSON.stringify(created.body)).not.toContain(secret);
      destinations.push({ id: created.body.id as string, name, receiver });
      const from = new Date(created.body.startFrom as string);
      if (from < startFrom) startFrom = from;
    }

    const port = await freePort();
    let streamer = startStreamer(port);
    await streamerUp(port, streamer);
    try {
      await writeEvents(1200);
      // SIGKILL once delivery is under way everywhere, not finished.
      await pollUntil(
        'a first delivery at every receiver',
        async () =>
          (await Promise.all(targets.map(async (t) => (await t.receiver.received()).length > 0))).every(
            Boolean,
          )
            ? true
            : undefined,
        60_000,
      );
      streamer.child.kill('SIGKILL');
      await streamer.exited;
      await writeEvents(400);
      streamer = startStreamer(port);
      await streamerUp(port, streamer);
      // The receivers go down while events keep coming, then come back.
      await Promise.all(targets.map((t) => t.receiver.stop()));
      await writeEvents(400);
      await sleep(1500);
      await Promise.all(targets.map((t) => t.receiver.start()));

      const { rows } = await db.sql.query<{ id: string }>(
        `SELECT id FROM audit_events WHERE occurred_at >= $1 ORDER BY occurred_at, id`,
        [startFrom],
      );
      const expected = rows.map((row) => row.id);
      expect(expected.length).toBeGreaterThanOrEqual(2000);
      for (const { id, name, receiver } of destinations) {
        await pollUntil(
          `every event at ${name}`,
          async () => {
            const got = new Set((await receiver.received()).map((e) => e.id));
            return expected.every((e) => got.has(e)) ? true : undefined;
          },
          90_000,
        ).catch(async (error: Error) => {
          throw new Error(`${error.message}\n${await whyMissing(id, name, receiver, expected, streamer)}`);
        });
        expect({ name, problems: deliveryProblems(expected, await receiver.received()) }).toEqual({
          name,
          problems: [],
        });
      }
      for (const { id, name } of destinations) {
        const status = await pollUntil(
          `${name} up to date`,
          async () => {
            const { body } = await request(server)
              .get(`/audit/destinations/${id}`)
              .set('Authorization', `Bearer ${platform}`)
              .expect(200);
            return body.status.pendingEvents === 0 && body.status.lastSuccessAt ? body : undefined;
          },
          60_000,
        );
        expect({ name, ...status.status }).toMatchObject({
          name,
          state: 'active',
          lagSeconds: 0,
          deadLetters: 0,
        });
      }
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const { name } of destinations) {
        expect(metrics).toMatch(
          new RegExp(
            `audit_stream_delivered_events_total\\{destination="${name}",organization="\\*"\\} [1-9]`,
          ),
        );
        expect(metrics).toMatch(
          new RegExp(
            `audit_stream_send_failures_total\\{destination="${name}",organization="\\*",failure="retry"\\} [1-9]`,
          ),
        );
      }
    } finally {
      streamer.child.kill('SIGTERM');
      await streamer.exited;
      for (const { id } of destinations)
        await request(server)
          .delete(`/audit/destinations/${id}`)
          .set('Authorization', `Bearer ${platform}`)
          .expect(204);
    }
  }

  it('webhook, Splunk HEC, Datadog, syslog over RELP and TLS, NATS JetStream, S3: each gets every event once, in order', async () => {
    const receivers: TestReceiver[] = [];
    try {
      const webhook = await startWebhookReceiver();
      const hec = await startSplunkHecReceiver();
      const datadog = await startDatadogReceiver();
      // RELP: each message acknowledged once rsyslog queued it. Over plain TCP or TLS the only proof is a clean
      // close after reading, which holds here because the receiver's stop waits for its queue (rsyslog.ts).
      const syslogRelp = await startRsyslogReceiver({ listener: 'relp' });
      const syslogTls = await startRsyslogReceiver({ listener: 'tls' });
      const nats = await startNatsReceiver();
      const s3 = await startS3Receiver();
      receivers.push(webhook, hec, datadog, syslogRelp, syslogTls, nats, s3);
      await scenario([
        { receiver: webhook, format: 'json' },
        { receiver: hec, format: 'ocsf' },
        { receiver: datadog, format: 'json' },
        { receiver: syslogRelp, format: 'cef' },
        { receiver: syslogTls, format: 'json' },
        { receiver: nats, format: 'ocsf' },
        { receiver: s3, format: 'json' },
      ]);
      for (const receiver of [webhook, hec, datadog]) expect(receiver.problems()).toEqual([]);
    } finally {
      for (const receiver of receivers) await receiver.destroy();
    }
  }, 300_000);
});
