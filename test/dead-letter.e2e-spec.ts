import { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { AUDIT_MIGRATIONS } from '../migrations';
import { AuditEvent, AuditService } from '../src/audit';
import { AuditDelivery } from '../src/audit/audit-delivery.service';
import { AuditWriter } from '../src/audit/audit-writer.service';
import { eventId } from '../src/audit/event-id';
import { QueuedEvent, toQueued } from '../src/audit/queued-event';
import { runMigrations } from '../src/common/database/migrate';
import { scrape } from './support/metrics';
import { startNotesApp } from './support/notes-app';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp } from './support/test-app';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * An event as capture would build it, encoded directly: nothing sanitizes `metadata` on this path, so a
 * value Postgres refuses reaches the COPY line as it is (the writer's last line of defence is under test).
 */
function queued(resourceId: string, metadata: AuditEvent['metadata'] = null): QueuedEvent {
  const occurredAt = new Date();
  return toQueued({
    id: eventId(occurredAt),
    occurredAt,
    organizationId: 'org-dl',
    actorId: 'tester',
    actorType: 'system',
    action: 'update',
    eventType: 'job.update',
    resourceType: 'job',
    resourceId,
    before: null,
    after: null,
    changes: null,
    status: 'success',
    statusCode: null,
    errorMessage: null,
    severity: 'info',
    requestId: null,
    ip: null,
    userAgent: null,
    route: null,
    method: null,
    durationMs: null,
    metadata,
  });
}

/** 40 good events with two bad ones among them: a lone surrogate (22P02) and a NUL (22P05) in JSON. */
function batchWithBadRows() {
  const good = Array.from({ length: 40 }, (_, i) => queued(`good-${i}`));
  const surrogate = queued('bad-surrogate', { note: 'x\ud800y' });
  const nul = queued('bad-nul', { note: 'x\u0000y' });
  const batch = [...good.slice(0, 13), surrogate, ...good.slice(13, 29), nul, ...good.slice(29)];
  return { good, surrogate, nul, batch };
}

async function expectIsolated(
  db: TestDatabase,
  { good, surrogate, nul }: ReturnType<typeof batchWithBadRows>,
) {
  const stored = await db.sql.query(`SELECT id FROM audit_events WHERE id = ANY($1::uuid[])`, [
    [...good, surrogate, nul].map((event) => event.id),
  ]);
  expect(stored.rows.map((row) => row.id).sort()).toEqual(good.map((event) => event.id).sort());
  const dead = await db.sql.query(
    `SELECT event_id, occurred_at, sqlstate, error, line FROM audit_dead_letters ORDER BY sqlstate`,
  );
  expect(dead.rows).toEqual([
    {
      event_id: surrogate.id,
      occurred_at: surrogate.occurredAt,
      sqlstate: '22P02',
      error: expect.stringMatching(/^22P02/),
      line: surrogate.line,
    },
    {
      event_id: nul.id,
      occurred_at: nul.occurredAt,
      sqlstate: '22P05',
      error: expect.stringMatching(/^22P05/),
      line: nul.line,
    },
  ]);
  // The error names what failed, never the value.
  for (const row of dead.rows) expect(row.error).not.toContain('x');
}

describe('Dead letters: a row Postgres refuses is isolated from its batch', () => {
  let db: TestDatabase;
  const apps: INestApplication[] = [];

  beforeEach(async () => {
    db = await createTestDatabase();
    // The notes app runs no migrations: the template may predate this one (the setup can load a built copy).
    await runMigrations(db.url, { migrations: AUDIT_MIGRATIONS });
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await db.drop();
  });

  it('memory mode: the bad rows go to audit_dead_letters (counted by SQLSTATE), the rest of the batch commits', async () => {
    const app = await startTestApp(db.url);
    apps.push(app);
    const audit = app.get(AuditService);
    const scraped = await scrape(app);
    expect(scraped.value('audit_dead_letters_total') ?? 0).toBe(0);
    const rows = batchWithBadRows();
    const writer = app.get(AuditWriter);
    for (const event of rows.batch) writer.enqueueQueued(event); // one buffer: one batch
    expect(await audit.flush(10_000)).toBe(true);

    await expectIsolated(db, rows);
    expect(audit.stats()).toMatchObject({ poisoned: 2, deadLettered: { '22P02': 1, '22P05': 1 } });
    const after = await scrape(app);
    expect(after.value('audit_dead_letters_total', { code: '22P02' })).toBe(1);
    expect(after.value('audit_dead_letters_total', { code: '22P05' })).toBe(1);
    expect(after.value('audit_events_poisoned_total')).toBe(2);
  });

  it('redis mode: the consumer isolates the bad rows into audit_dead_letters (and the dead-letter stream)', async () => {
    const streamKey = `audit-test:${randomBytes(6).toString('hex')}`;
    const redis = new Redis(REDIS_URL);
    try {
      const options = { delivery: 'redis' as const, redis: { url: REDIS_URL, streamKey } };
      const producer = await startNotesApp(db.url, { ...options, redis: { ...options.redis, consumers: 0 } });
      apps.push(producer);
      const rows = batchWithBadRows();
      const stream = producer.get(AuditDelivery).stream!;
      for (const event of rows.batch) expect(await stream.submit(event)).toBe(true);
      expect(await redis.xlen(streamKey)).toBe(rows.batch.length);

      // One consumer reads the whole stream as one batch.
      const worker = await startNotesApp(db.url, { ...options, redis: { ...options.redis, consumers: 1 } });
      apps.push(worker);
      expect(await worker.get(AuditService).flush(10_000)).toBe(true);

      await expectIsolated(db, rows);
      expect(worker.get(AuditService).stats()).toMatchObject({
        poisoned: 2,
        deadLettered: { '22P02': 1, '22P05': 1 },
      });
      expect(await redis.xlen(`${streamKey}:dead`)).toBe(2);
      expect(await redis.xlen(streamKey)).toBe(0);
    } finally {
      await redis.del(streamKey, `${streamKey}:dead`);
      redis.disconnect();
    }
  });
});
