import { INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { PartitionService } from '../src/partitions/partition.service';
import { monthlyPartition } from '../src/partitions/partition-naming';
import { waitForMaintenanceIdle } from './support/maintenance';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';
import { Scrape, scrape } from './support/metrics';
import { StatsRefreshJob } from '../src/query/stats-refresh.job';

/** How much a series moved between two scrapes (a series that did not exist yet counts as 0). */
const delta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) =>
  (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);

describe('GET /metrics', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let alice: string;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    alice = await token({ sub: 'alice', org: 'org-a' });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('serves the Prometheus text format without auth, with process metrics, and is not audited', async () => {
    await flushAudit(app);
    const res = await http().get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const first = new Scrape(res.text);
    expect(first.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(first.declared.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(first.declared.get('audit_events_captured_total')).toBe('counter');

    const again = await scrape(app);
    expect(again.value('audit_events_captured_total')).toBe(first.value('audit_events_captured_total'));
  });

  it('counts audited requests as captured then flushed, and observes batch sizes and durations', async () => {
    const before = await scrape(app);
    const ids: string[] = [];
    // The demo's writes are captured in their own transaction (not through the buffer); its reads go
    // through the buffer: 7 reads are the writer's events.
    for (let i = 0; i < 2; i++) {
      const res = await http()
        .post('/accounts')
        .set('Authorization', `Bearer ${alice}`)
        .send({ name: `A${i}`, email: `a${i}@example.com`, plan: 'free', password: 'long-enough-1' })
        .expect(201);
      ids.push(res.body.id);
    }
    for (let i = 0; i < 7; i++) {
      await http().get(`/accounts/${ids[i % 2]}`).set('Authorization', `Bearer ${alice}`).expect(200);
    }
    await flushAudit(app);
    const after = await scrape(app);

    expect(delta(before, after, 'audit_events_captured_total')).toBe(7);
    expect(delta(before, after, 'audit_events_flushed_total')).toBe(7);
    expect(delta(before, after, 'audit_events_dropped_total', { reason: 'high_water' })).toBe(0);
    // Committed batch sizes add up to exactly the events written, whatever the batching.
    expect(delta(before, after, 'audit_flush_batch_size_sum')).toBe(7);
    const batches = delta(before, after, 'audit_flush_batch_size_count');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(delta(before, after, 'audit_flush_duration_seconds_count', { outcome: 'committed' })).toBe(
      batches,
    );
    expect(after.value('audit_flush_duration_seconds_bucket', { outcome: 'committed', le: '+Inf' })).toBe(
      after.value('audit_flush_duration_seconds_count', { outcome: 'committed' }),
    );
    expect(after.value('audit_buffer_depth')).toBe(0);
    expect(after.value('audit_buffer_in_flight')).toBe(0);
    expect(after.value('audit_buffer_oldest_pending_age_seconds')).toBe(0);
    expect(after.value('audit_buffer_high_water_mark')).toBe(50000);
    const { rows } = await db.sql.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE resource_id = ANY($1::text[])`,
      [ids],
    );
    expect(rows[0].n).toBe(9); // 2 creates, committed with their rows, and the 7 reads
  });

  it('counts a poisoned event and the COPY errors, by SQLSTATE, that isolated it', async () => {
    const audit = app.get(AuditService);
    await db.sql.query(
      `ALTER TABLE audit_events ADD CONSTRAINT test_no_poison CHECK (event_type <> 'poison.event')`,
    );
    try {
      const before = await scrape(app);
      for (let i = 0; i < 20; i++)
        audit.record({ action: 'update', resourceType: 'job', resourceId: `g${i}` });
      audit.record({ action: 'event', eventType: 'poison.event' });
      for (let i = 0; i < 20; i++)
        audit.record({ action: 'update', resourceType: 'job', resourceId: `h${i}` });
      expect(await audit.flush()).toBe(true);
      const after = await scrape(app);

      expect(delta(before, after, 'audit_events_captured_total')).toBe(41);
      expect(delta(before, after, 'audit_events_poisoned_total')).toBe(1);
      expect(delta(before, after, 'audit_events_flushed_total')).toBe(40);
      // At least the batch and the lone bad event failed (the halves in between too).
      const checkViolations = delta(before, after, 'audit_copy_errors_total', { code: '23514' });
      expect(checkViolations).toBeGreaterThanOrEqual(2);
      expect(delta(before, after, 'audit_copy_errors_total')).toBe(checkViolations);
      expect(delta(before, after, 'audit_flush_duration_seconds_count', { outcome: 'failed' })).toBe(
        checkViolations,
      );
    } finally {
      await db.sql.query('ALTER TABLE audit_events DROP CONSTRAINT test_no_poison');
    }
  });

  it('exposes the events a kill -9 would lose (memory mode): up while Postgres holds writes back, 0 once committed', async () => {
    const audit = app.get(AuditService);
    await flushAudit(app);
    expect((await scrape(app)).value('audit_unflushed_events')).toBe(0);
    // COPY waits for the lock: the events stay accepted and uncommitted, in this process's memory only.
    await db.sql.query('BEGIN');
    await db.sql.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE');
    try {
      for (let i = 0; i < 5; i++)
        audit.record({ action: 'update', resourceType: 'job', resourceId: `u${i}` });
      await new Promise((resolve) => setTimeout(resolve, 300)); // past the flush interval: the COPY has started
      expect((await scrape(app)).value('audit_unflushed_events')).toBe(5);
    } finally {
      await db.sql.query('ROLLBACK');
    }
    await flushAudit(app);
    expect((await scrape(app)).value('audit_unflushed_events')).toBe(0);
  });

  it('counts runs, failures and durations of the partition job', async () => {
    const job = { job_name: 'partition-maintenance' };
    const before = await scrape(app);
    expect(before.value('audit_job_runs_total', job)).toBeGreaterThanOrEqual(1); // the run at boot
    expect(before.value('audit_job_failures_total', job)).toBe(0);
    expect(before.value('audit_job_duration_seconds_count', job)).toBe(
      before.value('audit_job_runs_total', job),
    );

    // Next month's partition gone and the parent renamed: re-creating it must fail.
    const next = monthlyPartition(
      new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1)),
    );
    await waitForMaintenanceIdle(db);
    await db.sql.query(`DROP TABLE "${next.name}"`);
    await db.sql.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    const partitions = app.get(PartitionService);
    try {
      await partitions.tick(); // logs the failure, never throws
    } finally {
      await db.sql.query('ALTER TABLE audit_events_away RENAME TO audit_events');
    }
    await partitions.tick();
    const after = await scrape(app);

    expect(delta(before, after, 'audit_job_runs_total', job)).toBe(2);
    expect(delta(before, after, 'audit_job_failures_total', job)).toBe(1);
    expect(delta(before, after, 'audit_job_duration_seconds_count', job)).toBe(2);
    expect(
      after.value('audit_job_runs_total', { job_name: 'partition-search-index' }),
    ).toBeGreaterThanOrEqual(2);
    const { rows } = await db.sql.query(`SELECT to_regclass($1) IS NOT NULL AS back`, [next.name]);
    expect(rows[0].back).toBe(true);
  });

  it('counts runs of the stats refresh job', async () => {
    const job = { job_name: 'stats-refresh' };
    const refresher = app.get(StatsRefreshJob);
    await refresher.run(); // joins the refresh started at boot, if it is still running
    const before = await scrape(app);
    await refresher.run();
    const after = await scrape(app);
    expect(delta(before, after, 'audit_job_runs_total', job)).toBe(1);
    expect(after.value('audit_job_failures_total', job)).toBe(0);
  });

  it('serves every metric the Grafana dashboard queries', async () => {
    const dashboard = JSON.parse(
      readFileSync(join(__dirname, '..', 'deploy', 'grafana-dashboard.json'), 'utf8'),
    );
    const exprs: string[] = (dashboard.panels as Array<{ targets?: Array<{ expr: string }> }>).flatMap(
      (panel) => (panel.targets ?? []).map((target) => target.expr),
    );
    const names = new Set(exprs.flatMap((expr) => expr.match(/\b(?:audit|process|nodejs)_[a-z_]+\b/g) ?? []));
    expect(names.size).toBeGreaterThanOrEqual(10);
    const served = await scrape(app);
    const missing = [...names].filter((name) => {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      return !served.declared.has(name) && served.declared.get(base) !== 'histogram';
    });
    expect(missing).toEqual([]);
  });
});
