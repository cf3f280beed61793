import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { PartitionService } from '../src/partitions/partition.service';
import { monthlyPartition } from '../src/partitions/partition-naming';
import { waitForMaintenanceIdle } from './support/maintenance';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp } from './support/test-app';
import { scrape } from './support/metrics';

const READY_CHECKS = ['database', 'auditBuffer', 'auditLag', 'partitions'];

const ready = (app: INestApplication, status: 200 | 503) =>
  request(app.getHttpServer())
    .get('/health/ready')
    .expect(status)
    .then((res) => res.body);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('GET /health/ready', () => {
  describe('with the default limits', () => {
    let db: TestDatabase;
    let app: INestApplication;

    beforeAll(async () => {
      db = await createTestDatabase();
      app = await startTestApp(db.url);
    });
    afterAll(async () => {
      await app?.close();
      await db?.drop();
    });

    it('is 200 with every check up, and liveness is unchanged', async () => {
      const body = await ready(app, 200);
      expect(body.status).toBe('ok');
      expect(Object.keys(body.info).sort()).toEqual([...READY_CHECKS].sort());
      for (const check of READY_CHECKS) expect(body.info[check].status).toBe('up');
      expect(body.info.auditBuffer).toMatchObject({ pending: 0, inFlight: 0, highWaterMark: 50000 });
      expect(body.info.auditLag).toMatchObject({ oldestPendingMs: null, maxLagMs: 60000 });
      const live = await request(app.getHttpServer()).get('/health/live').expect(200);
      expect(Object.keys(live.body.info)).toEqual(['eventLoop']);
    });

    it("is 503 naming the partitions check while next month's partition is missing", async () => {
      const now = new Date();
      const next = monthlyPartition(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)));
      await waitForMaintenanceIdle(db);
      await db.sql.query(`DROP TABLE "${next.name}"`);

      const body = await ready(app, 503);
      expect(body.status).toBe('error');
      expect(Object.keys(body.error)).toEqual(['partitions']);
      expect(body.error.partitions).toMatchObject({
        status: 'down',
        message: `missing partitions: ${next.name}`,
      });
      expect(Object.keys(body.info).sort()).toEqual(['auditBuffer', 'auditLag', 'database']);

      await app.get(PartitionService).ensureAhead(); // what the hourly job does
      expect((await ready(app, 200)).info.partitions.present).toContain(next.name);
    });
  });

  describe('with small limits', () => {
    let db: TestDatabase;
    let app: INestApplication;
    let audit: AuditService;
    const record = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        audit.record({ action: 'update', resourceType: 'job', resourceId: `${i}` }),
      );

    beforeAll(async () => {
      db = await createTestDatabase();
      // Nothing is written before 100 events wait or a minute passes, unless the test flushes. No spool:
      // failed batches stay in memory, where the high-water mark bounds them (the spool has its own tests).
      app = await startTestApp(db.url, {
        AUDIT_SPOOL_DIR: 'off',
        AUDIT_MAX_BUFFER: '100',
        AUDIT_BATCH_SIZE: '100',
        AUDIT_FLUSH_INTERVAL_MS: '60000',
        AUDIT_READY_MAX_LAG_MS: '1000',
      });
      audit = app.get(AuditService);
    });
    afterAll(async () => {
      await app?.close();
      await db?.drop();
    });

    it('is 503 naming auditLag when the oldest event has waited past AUDIT_READY_MAX_LAG_MS', async () => {
      record(1);
      // Age is time spent in the writer, not since occurredAt: importing old events is no lag.
      audit.record({ action: 'import', occurredAt: new Date(Date.now() - 3_600_000) });
      expect((await ready(app, 200)).info.auditLag.oldestPendingMs).toBeLessThan(1000);
      await sleep(1100);

      const body = await ready(app, 503);
      expect(Object.keys(body.error)).toEqual(['auditLag']);
      expect(body.error.auditLag.message).toMatch(/^oldest event held for \d+ ms, limit 1000 ms$/);
      const metrics = await scrape(app);
      expect(metrics.value('audit_buffer_oldest_pending_age_seconds')).toBeGreaterThan(1);
      expect(metrics.value('audit_buffer_depth')).toBe(2);

      expect(await audit.flush()).toBe(true);
      await ready(app, 200);
    });

    it('is 503 naming auditBuffer when events pile up past the high-water mark, and counts the drops', async () => {
      // A missing column fails every COPY with 42703, a transient error: the batches are kept and retried.
      await db.sql.query('ALTER TABLE audit_events RENAME COLUMN event_type TO event_type_away');
      try {
        const before = await scrape(app);
        record(150);
        const body = await ready(app, 503);
        expect(body.error.auditBuffer.status).toBe('down');
        expect(body.error.auditBuffer.message).toMatch(
          /^150 events held \(\d+ waiting, \d+ in flight\), high-water mark 100$/,
        );
        expect(body.info.partitions.status).toBe('up');

        // Wait for the first COPY to have failed, so the 500 below find the batch kept for retry.
        for (let i = 0; i < 100 && audit.stats().failedBatches === 0; i++) await sleep(50);
        const accepted = record(500).filter(Boolean).length;
        expect(accepted).toBeLessThanOrEqual(50);
        const after = await scrape(app);
        expect(
          after.value('audit_events_dropped_total', { reason: 'high_water' })! -
            before.value('audit_events_dropped_total', { reason: 'high_water' })!,
        ).toBe(500 - accepted);
        expect(after.value('audit_copy_errors_total', { code: '42703' })).toBeGreaterThanOrEqual(1);
      } finally {
        await db.sql.query('ALTER TABLE audit_events RENAME COLUMN event_type_away TO event_type');
      }
      expect(await audit.flush(15_000)).toBe(true);
      await ready(app, 200);
    });
  });
});
