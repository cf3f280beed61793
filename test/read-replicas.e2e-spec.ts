import { INestApplication } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuditService, RecordAuditEventInput } from '../src/audit';
import { resolveAuditOptions } from '../src/audit/audit-options';
import { ReadReplicas } from '../src/common/database/read-replicas';
import { loadConfig } from '../src/config/environment';
import { EventsRepository } from '../src/query/events.repository';
import { scrape, Scrape } from './support/metrics';
import { createOwnDatabase, OwnPrimaryWithReplica, startOwnPrimaryWithReplica } from './support/own-services';
import { flushAudit, startTestApp, token } from './support/test-app';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const DATABASE = 'audit_replicas';
const MAX_LAG_MS = 2000;

/**
 * Read replicas on a real streaming replica: an own primary, `pg_basebackup -R` of it, a second postmaster.
 * The app reads through AUDIT_REPLICA_URLS; the test looks at what each server saw.
 */
describe('read replicas (AUDIT_REPLICA_URLS)', () => {
  let cluster: OwnPrimaryWithReplica;
  let app: INestApplication;
  let audit: AuditService;
  let primarySql: Client;
  let replicaSql: Client;
  let replicaName: string;
  let auth: { Authorization: string };
  const http = () => request(app.getHttpServer());
  const record = (input: Partial<RecordAuditEventInput> = {}) =>
    audit.record({
      action: 'update',
      resourceType: 'invoice',
      resourceId: 'inv-1',
      actor: { id: 'u1', organizationId: 'org-a' },
      before: { total: 1 },
      after: { total: 2 },
      ...input,
    })!;
  /** The replicas check of the readiness answer (whatever the other checks say). */
  const ready = async () => (await http().get('/health/ready')).body.details.replicas;
  const replicaReads = (s: Scrape) => s.value('audit_replica_reads_total', { replica: replicaName }) ?? 0;
  const fallbacks = (s: Scrape) => s.value('audit_replica_fallback_reads_total') ?? 0;
  const until = async (what: string, condition: () => Promise<boolean>, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };
  const replicaState = async () => (await ready()).replicas[replicaName]?.state as string;
  /** The replica has replayed everything the primary has written so far. */
  const replicaCaughtUp = async () => {
    const { rows } = await primarySql.query('SELECT pg_current_wal_lsn()::text AS lsn');
    await until('the replica to replay the primary', async () => {
      const r = await replicaSql.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [
        rows[0].lsn,
      ]);
      return r.rows[0].done;
    });
  };

  /** Every admin read of the issue, each expected to answer 200. */
  const adminReads = (eventId: string, requestId: string) => [
    http().get('/audit/events').query({ resourceType: 'invoice' }),
    http().get(`/audit/resources/invoice/inv-1/history`),
    http().get('/audit/actors/u1/activity'),
    http().get('/audit/actors/u1/summary'),
    http().get('/audit/resources/invoice/inv-1/as-of').query({ at: new Date().toISOString() }),
    http().get('/audit/stats').query({ groupBy: 'action' }),
    http().get(`/audit/requests/${requestId}`),
    http().get(`/audit/events/${eventId}`),
    http().get('/audit/export').query({ format: 'ndjson', resourceType: 'invoice' }),
  ];
  const runAdminReads = async (eventId: string, requestId: string) => {
    for (const req of adminReads(eventId, requestId)) await req.set(auth).expect(200);
  };

  beforeAll(async () => {
    cluster = await startOwnPrimaryWithReplica();
    const url = await createOwnDatabase(cluster.primary, DATABASE);
    app = await startTestApp(url, {
      AUDIT_REPLICA_URLS: cluster.replica.databaseUrl(DATABASE),
      AUDIT_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
      AUDIT_REPLICA_CHECK_MS: '250',
    });
    audit = app.get(AuditService);
    replicaName = `127.0.0.1:${cluster.replica.port}/${DATABASE}`;
    primarySql = new Client({ connectionString: url });
    replicaSql = new Client({ connectionString: cluster.replica.databaseUrl(DATABASE) });
    await Promise.all([primarySql.connect(), replicaSql.connect()]);
    auth = {
      Authorization: `Bearer ${await token({ sub: 'root', org: 'org-a', roles: ['audit:read:all'] })}`,
    };
    await until('the replica to be up', async () => (await replicaState()) === 'up');
  }, 60_000);

  afterAll(async () => {
    await primarySql?.end().catch(() => undefined);
    await replicaSql?.end().catch(() => undefined);
    await app?.close();
    await cluster?.destroy();
  });

  it('serves the admin reads from the replica, and the writes land on the primary', async () => {
    const event = record({ requestId: 'req-replica-1' });
    await flushAudit(app);
    // The write is on the primary; the replica (read-only) has it once it has replayed it.
    const onPrimary = await primarySql.query('SELECT count(*)::int AS n FROM audit_events WHERE id = $1', [
      event.id,
    ]);
    expect(onPrimary.rows[0].n).toBe(1);
    expect((await replicaSql.query('SELECT pg_is_in_recovery() AS standby')).rows[0].standby).toBe(true);
    await replicaCaughtUp();

    const before = await scrape(app);
    await runAdminReads(event.id, 'req-replica-1');
    const after = await scrape(app);
    // Every read (9 requests; as-of runs 2 queries) on the replica, none on the primary instead.
    expect(replicaReads(after) - replicaReads(before)).toBeGreaterThanOrEqual(9);
    expect(fallbacks(after) - fallbacks(before)).toBe(0);
    // What the replica's server itself saw: the app's read connections, by their application_name.
    const seen = await replicaSql.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'nest-audit-trail:replica-read'`,
    );
    expect(seen.rows[0].n).toBeGreaterThanOrEqual(1);
    const onThePrimary = await primarySql.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'nest-audit-trail:replica-read'`,
    );
    expect(onThePrimary.rows[0].n).toBe(0);

    const replicas = await ready();
    expect(replicas).toMatchObject({ status: 'up', serving: 1, of: 1, degraded: false, reads: 'replicas' });
    expect(replicas.replicas[replicaName]).toMatchObject({ state: 'up', lagMs: 0, lagBytes: 0 });
    expect(after.value('audit_replica_up', { replica: replicaName })).toBe(1);
    expect(after.value('audit_replica_lag_seconds', { replica: replicaName })).toBe(0);
  });

  it('reads an event just written from the primary, and moves every read there while the replica lags', async () => {
    // Replay paused: the replica stops at what it has, as a replica that falls behind does.
    await replicaSql.query('SELECT pg_wal_replay_pause()');
    try {
      const event = record({ resourceId: 'inv-paused', requestId: 'req-replica-2' });
      await flushAudit(app);
      const listed = async () =>
        (
          await http().get('/audit/events').query({ resourceId: 'inv-paused' }).set(auth).expect(200)
        ).body.items.map((e: { id: string }) => e.id);
      // The search runs on the replica, which has not replayed the event (within maxLagMs it still serves)...
      expect(await listed()).toEqual([]);
      // ...while the event by id, not found there, is read from the primary (read your own event).
      const own = await http().get(`/audit/events/${event.id}`).set(auth).expect(200);
      expect(own.body.id).toBe(event.id);

      // Past maxLagMs the replica is "lagging": reads go to the primary, which has the event.
      await until('the replica to be lagging', async () => (await replicaState()) === 'lagging');
      const lagging = await ready();
      expect(lagging).toMatchObject({ status: 'up', serving: 0, degraded: true, reads: 'primary' });
      expect(lagging.replicas[replicaName].lagMs).toBeGreaterThan(MAX_LAG_MS);
      expect(lagging.replicas[replicaName].lagBytes).toBeGreaterThan(0);
      const metrics = await scrape(app);
      expect(metrics.value('audit_replica_lag_seconds', { replica: replicaName })).toBeGreaterThan(
        MAX_LAG_MS / 1000,
      );
      expect(metrics.value('audit_replica_lag_bytes', { replica: replicaName })).toBeGreaterThan(0);
      expect(metrics.value('audit_replica_state', { replica: replicaName, state: 'lagging' })).toBe(1);
      expect(await listed()).toEqual([event.id]);
      expect(
        (await scrape(app)).value('audit_replica_fallback_reads_total', { reason: 'lagging' }),
      ).toBeGreaterThan(0);
    } finally {
      await replicaSql.query('SELECT pg_wal_replay_resume()');
    }
    await until('the replica to be up again', async () => (await replicaState()) === 'up');
  });

  it('answers from the primary while the replica is stopped, says so, and goes back to it when it returns', async () => {
    const event = record({ requestId: 'req-replica-3' });
    await flushAudit(app);
    await replicaSql.end();

    await cluster.replica.stop();
    const stoppedAt = Date.now();
    // The same admin reads, at once: the first one on the replica fails to connect and is answered by the primary.
    const before = await scrape(app);
    await runAdminReads(event.id, 'req-replica-3');
    const after = await scrape(app);
    expect(replicaReads(after)).toBe(replicaReads(before));
    expect(fallbacks(after) - fallbacks(before)).toBeGreaterThanOrEqual(9);
    const down = await ready();
    expect(down).toMatchObject({ status: 'up', serving: 0, degraded: true, reads: 'primary' });
    expect(down.replicas[replicaName]).toMatchObject({ state: 'down', lagMs: null });
    expect(down.replicas[replicaName].problem).toMatch(/^(ECONNREFUSED|57P01|08\w{3}|timeout|unavailable)$/);
    // The whole readiness answer stays 200: the primary serves the reads.
    const whole = await http().get('/health/ready').expect(200);
    expect(whole.body.status).toBe('ok');
    expect(after.value('audit_replica_up', { replica: replicaName })).toBe(0);
    expect(after.value('audit_replica_state', { replica: replicaName, state: 'down' })).toBe(1);
    expect(after.value('audit_replica_lag_seconds', { replica: replicaName })).toBeUndefined();
    const fallbackMs = Date.now() - stoppedAt;

    await cluster.replica.start();
    replicaSql = new Client({ connectionString: cluster.replica.databaseUrl(DATABASE) });
    await replicaSql.connect();
    await until('the replica to be up after its restart', async () => (await replicaState()) === 'up');
    const back = await scrape(app);
    await runAdminReads(event.id, 'req-replica-3');
    const later = await scrape(app);
    expect(replicaReads(later) - replicaReads(back)).toBeGreaterThanOrEqual(9);
    expect(fallbacks(later) - fallbacks(back)).toBe(0);
    expect(later.value('audit_replica_up', { replica: replicaName })).toBe(1);
    console.log(`admin reads answered by the primary within ${fallbackMs} ms of the replica stopping`);
  });

  it('keeps up with a burst of writes: lag measured while it lasts, back to 0 after, same rows on both', async () => {
    const replicas = app.get(ReadReplicas);
    const worst = { ms: 0, bytes: 0 };
    const sampler = setInterval(() => {
      for (const r of replicas.status()) {
        worst.ms = Math.max(worst.ms, r.lagMs ?? 0);
        worst.bytes = Math.max(worst.bytes, r.lagBytes ?? 0);
      }
    }, 50);
    const started = Date.now();
    try {
      for (let batch = 0; batch < 10; batch++) {
        for (let i = 0; i < 2000; i++) record({ resourceId: `burst-${i}`, requestId: 'req-burst' });
        await flushAudit(app);
      }
    } finally {
      clearInterval(sampler);
    }
    const writeMs = Date.now() - started;
    await replicaCaughtUp();
    await until('the lag to be measured as 0', async () => {
      const r = (await ready()).replicas[replicaName];
      return r.state === 'up' && r.lagMs === 0 && r.lagBytes === 0;
    });
    const count = 'SELECT count(*)::int AS n FROM audit_events WHERE request_id = $1';
    const [onPrimary, onReplica] = await Promise.all([
      primarySql.query(count, ['req-burst']),
      replicaSql.query(count, ['req-burst']),
    ]);
    expect(onPrimary.rows[0].n).toBe(20_000);
    expect(onReplica.rows[0].n).toBe(20_000);

    // The first page of the search, as EventsRepository runs it, on each server (same machine: indicative).
    const medianMs = async (sql: Client) => {
      const events = new EventsRepository({
        query: (text: string, params: unknown[]) => sql.query(text, params).then((r) => r.rows),
      } as unknown as DataSource);
      const times: number[] = [];
      for (let i = 0; i < 40; i++) {
        const t = performance.now();
        await events.page({ organizationId: 'org-a', resourceType: 'invoice' }, null, 51);
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b)[20];
    };
    const primaryMs = await medianMs(primarySql);
    const replicaMs = await medianMs(replicaSql);
    console.log(
      `20000 events written in ${writeMs} ms; worst replica lag seen ${worst.ms} ms / ${worst.bytes} bytes; ` +
        `search first page median ${primaryMs.toFixed(2)} ms on the primary, ${replicaMs.toFixed(2)} ms on the replica`,
    );
  });

  it('refuses to start on a replica URL that is not a postgres:// URL, without quoting it', () => {
    const secret = 'hunter2-secret';
    expect(() =>
      loadConfig({ AUDIT_REPLICA_URLS: `postgres://u:p@127.0.0.1/db, mysql://u:${secret}@db/x` }),
    ).toThrow(/AUDIT_REPLICA_URLS\[1\] \(mysql:\.\.\.\) must be a postgres:\/\/ URL with a host/);
    let message = '';
    try {
      resolveAuditOptions({ replicas: { urls: [`http://u:${secret}@x`], maxLagMs: 0 } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/replicas\.urls\[0\] \(http:\.\.\.\) must be a postgres:\/\/ URL/);
    expect(message).toMatch(/replicas\.maxLagMs must be >= 100/);
    expect(message).not.toContain(secret);
    expect(app.get(ReadReplicas).configured).toBe(true);
  });
});
