import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { AuditService } from '../src/audit';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp } from './support/test-app';

const MiB = 1024 * 1024;
/** ~16 KiB per event: 2,000 of them are ~32 MiB, far past a 1 MiB bound but far below the 50,000-event one. */
const LARGE = 'x'.repeat(8 * 1024);

/** The byte bound of the memory buffer: a flood of large events while Postgres cannot take any. */
describe('maxBufferBytes: the buffer is bounded by bytes, not only by count', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let locker: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url, {
      AUDIT_MAX_BUFFER_MB: '1',
      AUDIT_BATCH_SIZE: '20',
      AUDIT_FLUSH_CONCURRENCY: '2',
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const count = async (where = 'true') =>
    (await db.sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE ${where}`)).rows[0].n as number;

  it('drops non-critical events past the byte bound (counted), keeps critical ones, and writes what it took', async () => {
    const audit = app.get(AuditService);
    // COPY waits on the lock: batches stay in flight and the buffer fills up.
    locker = new Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE');

    let accepted = 0;
    let peakHeld = 0;
    for (let i = 0; i < 2000; i++) {
      const event = audit.record({
        action: 'update',
        resourceType: 'document',
        resourceId: `doc-${i}`,
        actor: { id: 'importer', type: 'service', organizationId: 'org-flood' },
        before: { body: `${LARGE}${i}` },
        after: { body: `${LARGE}${i + 1}` },
      });
      if (event) accepted++;
      peakHeld = Math.max(peakHeld, audit.stats().heldBytes);
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    const critical = Array.from({ length: 5 }, (_, i) =>
      audit.record({
        action: 'delete',
        resourceType: 'document',
        resourceId: `gone-${i}`,
        actor: { id: 'importer', type: 'service', organizationId: 'org-flood' },
        before: { body: LARGE },
      }),
    );

    const stats = audit.stats();
    // The bound holds within one event (an event is admitted while the total is below it).
    expect(peakHeld).toBeLessThanOrEqual(MiB + 64 * 1024);
    expect(peakHeld).toBeGreaterThan(MiB / 2);
    expect(accepted).toBeGreaterThan(10);
    expect(accepted).toBeLessThan(200);
    // Nothing committed or lost while the table is locked: every accepted event is still held.
    expect(stats.pending + stats.inFlight).toBe(accepted + critical.length);
    expect(stats.droppedByReason.high_water).toBe(2000 - accepted);
    expect(critical.every((event) => event !== null)).toBe(true);

    await locker.query('ROLLBACK');
    await locker.end();
    expect(await audit.flush(20_000)).toBe(true);
    expect(audit.stats().heldBytes).toBe(0);
    expect(await count(`resource_id LIKE 'doc-%'`)).toBe(accepted);
    expect(await count(`resource_id LIKE 'gone-%'`)).toBe(5);
  });

  it('takes events again once the writer has caught up', async () => {
    const audit = app.get(AuditService);
    const event = audit.record({
      action: 'update',
      resourceType: 'document',
      resourceId: 'after-flood',
      actor: { id: 'importer', type: 'service', organizationId: 'org-flood' },
      after: { body: LARGE },
    });
    expect(event).not.toBeNull();
    expect(await audit.flush(10_000)).toBe(true);
    expect(await count(`resource_id = 'after-flood'`)).toBe(1);
  });
});
