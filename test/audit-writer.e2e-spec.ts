import { INestApplication } from '@nestjs/common';
import { Pool } from 'pg';
import { AuditService } from '../src/audit';
import { AuditEventRepository } from '../src/audit/audit-event.repository';
import { encodeEvent } from '../src/audit/copy-format';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp } from './support/test-app';

const count = async (db: TestDatabase, where = 'true', params: unknown[] = []) =>
  (await db.sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE ${where}`, params)).rows[0]
    .n as number;

const recordMany = (audit: AuditService, n: number, prefix: string, extra: Record<string, unknown> = {}) => {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const event = audit.record({
      action: 'update',
      resourceType: 'job',
      resourceId: `${prefix}-${i}`,
      actor: { id: 'scheduler', type: 'system', organizationId: 'org-w' },
      before: { attempt: i },
      after: { attempt: i + 1 },
      ...extra,
    });
    if (event) ids.push(event.id);
  }
  return ids;
};

describe('AuditService.record() and the COPY writer', () => {
  describe('with the default settings', () => {
    let db: TestDatabase;
    let app: INestApplication;
    let audit: AuditService;

    beforeAll(async () => {
      db = await createTestDatabase();
      app = await startTestApp(db.url);
      audit = app.get(AuditService);
    });
    afterAll(async () => {
      await app?.close();
      await db?.drop();
    });

    it('writes thousands of events with COPY into the partition of their month, DEFAULT for the rest', async () => {
      const now = new Date();
      const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 15));
      const longAgo = new Date(Date.UTC(now.getUTCFullYear() - 2, 0, 10));
      recordMany(audit, 5000, 'bulk');
      recordMany(audit, 10, 'next', { occurredAt: nextMonth });
      recordMany(audit, 10, 'old', { occurredAt: longAgo });
      expect(await audit.flush()).toBe(true);

      const { rows } = await db.sql.query(
        `SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM audit_events
          WHERE resource_type = 'job' GROUP BY 1 ORDER BY 1`,
      );
      const pad = (d: Date) => `${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
      expect(rows).toEqual(
        expect.arrayContaining([
          { partition: `audit_events_p${pad(now)}`, n: 5000 },
          { partition: `audit_events_p${pad(nextMonth)}`, n: 10 },
          { partition: 'audit_events_default', n: 10 },
        ]),
      );
    });

    it('redacts and serializes programmatic events like HTTP ones', async () => {
      const cyclic: Record<string, unknown> = { label: 'loop' };
      cyclic.self = cyclic;
      const event = audit.record({
        action: 'login',
        actor: { id: 'u1', organizationId: 'org-w' },
        after: {
          when: new Date('2026-01-02T03:04:05.000Z'),
          big: 12345678901234567890n,
          tags: new Set(['a', 'b']),
          prefs: new Map([['theme', 'dark']]),
          avatar: Buffer.from('hi'),
          cyclic,
          password: 'hunter2-hunter2',
          card: '4111 1111 1111 1111',
        },
        metadata: { apiKey: 'sk_live_abcdef', via: 'sso' },
        ip: 'not-an-ip',
      })!;
      await audit.flush();
      const { rows } = await db.sql.query(
        `SELECT after, metadata, ip, event_type FROM audit_events WHERE id = $1`,
        [event.id],
      );
      expect(rows[0]).toEqual({
        event_type: 'login',
        ip: null,
        metadata: { apiKey: '[REDACTED]', via: 'sso' },
        after: {
          when: '2026-01-02T03:04:05.000Z',
          big: '12345678901234567890',
          tags: ['a', 'b'],
          prefs: { theme: 'dark' },
          avatar: { $type: 'Buffer', length: 2, base64: 'aGk=' },
          cyclic: { label: 'loop', self: '[Circular]' },
          password: '[REDACTED]',
          card: '[REDACTED]',
        },
      });
    });

    it('caps an oversized state with an explicit truncation marker', async () => {
      const huge = { rows: Array.from({ length: 20000 }, (_, i) => ({ i, text: 'x'.repeat(50) })) };
      const event = audit.record({ action: 'import', resourceType: 'file', after: huge })!;
      await audit.flush();
      const { rows } = await db.sql.query(
        `SELECT after->'$truncated' AS truncated, (after->>'limitBytes')::int AS limit, octet_length(after::text) AS bytes
           FROM audit_events WHERE id = $1`,
        [event.id],
      );
      expect(rows[0].truncated).toBe(true);
      expect(rows[0].limit).toBe(65536);
      expect(rows[0].bytes).toBeLessThan(80 * 1024);
    });

    it('retries a batch that failed to write (table unavailable) and loses nothing', async () => {
      const before = audit.stats().failedBatches;
      await db.sql.query('ALTER TABLE audit_events RENAME TO audit_events_away');
      const ids = recordMany(audit, 300, 'outage');
      expect(await audit.flush(700)).toBe(false); // cannot drain while the table is away
      expect(audit.stats().failedBatches).toBeGreaterThan(before);
      await db.sql.query('ALTER TABLE audit_events_away RENAME TO audit_events');
      expect(await audit.flush(15_000)).toBe(true);
      expect(await count(db, 'id = ANY($1::uuid[])', [ids])).toBe(300);
    });

    it('sets aside only the poison event of a batch and writes the rest', async () => {
      await db.sql.query(
        `ALTER TABLE audit_events ADD CONSTRAINT test_no_poison CHECK (event_type <> 'poison.event')`,
      );
      try {
        const poisonedBefore = audit.stats().poisoned;
        const good = recordMany(audit, 99, 'batch');
        audit.record({ action: 'event', eventType: 'poison.event' });
        const more = recordMany(audit, 50, 'batch2');
        expect(await audit.flush()).toBe(true);
        expect(audit.stats().poisoned).toBe(poisonedBefore + 1);
        expect(await count(db, 'id = ANY($1::uuid[])', [[...good, ...more]])).toBe(149);
      } finally {
        await db.sql.query('ALTER TABLE audit_events DROP CONSTRAINT test_no_poison');
      }
    });

    it('replays a batch idempotently: a retry after a commit writes no duplicates', async () => {
      const pool = new Pool({ connectionString: db.url, max: 2 });
      try {
        const repository = new AuditEventRepository(pool);
        const batch = Array.from({ length: 20 }, (_, i) =>
          audit.record({ action: 'probe', resourceId: `p${i}` })!,
        );
        await audit.flush(); // the writer has committed them once
        const inserted = await repository.copyIdempotent(batch.map(encodeEvent)); // a "retry" of the same batch
        expect(inserted).toBe(0);
        expect(await count(db, 'id = ANY($1::uuid[])', [batch.map((e) => e.id)])).toBe(20);
      } finally {
        await pool.end();
      }
    });
  });

  describe('bounded buffer', () => {
    let db: TestDatabase;
    let app: INestApplication;

    beforeAll(async () => {
      db = await createTestDatabase();
      app = await startTestApp(db.url, { AUDIT_MAX_BUFFER: '200', AUDIT_BATCH_SIZE: '100' });
    });
    afterAll(async () => {
      await app?.close();
      await db?.drop();
    });

    it('drops non-critical events past the high-water mark (counted), never critical ones', async () => {
      const audit = app.get(AuditService);
      await db.sql.query('ALTER TABLE audit_events RENAME TO audit_events_away');
      const accepted = recordMany(audit, 500, 'flood');
      const critical = recordMany(audit, 20, 'critical', { action: 'delete' });
      const stats = audit.stats();
      expect(accepted.length).toBeLessThan(500);
      expect(stats.dropped).toBe(500 - accepted.length);
      expect(critical).toHaveLength(20);
      await db.sql.query('ALTER TABLE audit_events_away RENAME TO audit_events');
      expect(await audit.flush(15_000)).toBe(true);
      expect(await count(db)).toBe(accepted.length + 20);
    });
  });

  describe('graceful shutdown', () => {
    it('drains events recorded just before SIGTERM/close into the table', async () => {
      const db = await createTestDatabase();
      try {
        // Nothing would be flushed for a minute: only the shutdown drain can write these.
        const app = await startTestApp(db.url, {
          AUDIT_FLUSH_INTERVAL_MS: '60000',
          AUDIT_BATCH_SIZE: '50000',
        });
        const ids = recordMany(app.get(AuditService), 3000, 'late');
        expect(await count(db)).toBe(0);
        await app.close();
        expect(await count(db, 'id = ANY($1::uuid[])', [ids])).toBe(3000);
      } finally {
        await db.drop();
      }
    });
  });

  describe('far-future times', () => {
    it('stores an event dated past the horizon at server time, keeps its own time in metadata, counts it', async () => {
      const db = await createTestDatabase();
      try {
        const app = await startTestApp(db.url, { AUDIT_PARTITION_HORIZON_DAYS: '30' });
        const audit = app.get(AuditService);
        const farAway = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
        const soon = new Date(Date.now() + 20 * 24 * 3600 * 1000);
        const clamped = audit.record({ action: 'update', resourceType: 'job', occurredAt: farAway })!;
        const kept = audit.record({ action: 'update', resourceType: 'job', occurredAt: soon })!;
        expect(await audit.flush()).toBe(true);

        const { rows } = await db.sql.query(
          `SELECT id, occurred_at, metadata FROM audit_events WHERE id = ANY($1::uuid[])`,
          [[clamped.id, kept.id]],
        );
        const byId = new Map(rows.map((row) => [row.id, row]));
        expect(Math.abs(byId.get(clamped.id).occurred_at.getTime() - Date.now())).toBeLessThan(60_000);
        expect(byId.get(clamped.id).metadata).toEqual({ originalOccurredAt: farAway.toISOString() });
        expect(byId.get(kept.id).occurred_at.getTime()).toBe(soon.getTime()); // within the horizon: as given
        expect(audit.stats().clamped).toBe(1);
        await app.close();
      } finally {
        await db.drop();
      }
    });
  });
});
