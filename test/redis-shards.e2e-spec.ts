import { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { AuditService } from '../src/audit';
import { deserializeQueued } from '../src/audit/delivery/queued-event.codec';
import { shardOf } from '../src/audit/delivery/stream-shards';
import { startNotesApp } from './support/notes-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SHARDS = 4;
const ORGS = Array.from({ length: 12 }, (_, i) => `org-shard-${i}`);

/** A stream in 4 shards on one Redis (no cluster): routing by organization, summed stats, the drain. */
describe('sharded stream on a single Redis', () => {
  let db: TestDatabase;
  let redis: Redis;
  const streamKey = `audit-test:shards:${randomBytes(6).toString('hex')}`;
  const shardKey = (i: number) => `{${streamKey}:${i}}`;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
    for (let i = 0; i < SHARDS; i++) await redis.del(shardKey(i), `${shardKey(i)}:dead`);
    await redis.del(streamKey);
    redis.disconnect();
    await db.drop();
  });

  const start = async (consumers: number) => {
    const app = await startNotesApp(db.url, {
      delivery: 'redis',
      redis: { url: REDIS_URL, streamKey, shards: SHARDS, consumers, claimIdleMs: 500 },
    });
    apps.push(app);
    return app;
  };

  it("puts each organization's events in its own shard, in order, and drains every shard", async () => {
    const producer = await start(0);
    const audit = producer.get(AuditService);
    for (let i = 0; i < 240; i++) {
      const org = ORGS[i % ORGS.length];
      await audit.recordDurable({
        action: 'update',
        resourceType: 'job',
        resourceId: `job-${i}`,
        actor: { id: 'scheduler', type: 'system', organizationId: org },
      });
    }

    // Every shard got some organizations; each entry sits in its organization's shard, in the order written.
    expect(await redis.exists(streamKey)).toBe(0); // the unsharded key is not used
    const seen = new Map<string, number[]>();
    let total = 0;
    for (let s = 0; s < SHARDS; s++) {
      const entries = (await redis.xrange(shardKey(s), '-', '+')) as Array<[string, string[]]>;
      expect(entries.length).toBeGreaterThan(0);
      total += entries.length;
      for (const [, fields] of entries) {
        const event = deserializeQueued(fields[1]);
        expect(shardOf(event.organizationId, SHARDS)).toBe(s);
        const n = Number(/job-(\d+)\t/.exec(event.line)?.[1] ?? -1);
        expect(n).toBeGreaterThanOrEqual(0);
        seen.set(event.organizationId!, [...(seen.get(event.organizationId!) ?? []), n]);
      }
    }
    expect(total).toBe(240);
    for (const numbers of seen.values()) expect(numbers).toEqual([...numbers].sort((a, b) => a - b));

    // The stats add up the shards (polled every 500 ms).
    for (let i = 0; i < 40 && audit.stats().stream?.length !== 240; i++) await sleep(100);
    expect(audit.stats().stream).toMatchObject({ length: 240, pending: 0, lag: 240 });

    const worker = await start(1);
    expect(await worker.get(AuditService).flush(15_000)).toBe(true);
    const { rows } = await db.sql.query(
      `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM audit_events WHERE resource_type = 'job'`,
    );
    expect(rows[0]).toEqual({ n: 240, ids: 240 });
    for (let s = 0; s < SHARDS; s++) {
      expect(await redis.xlen(shardKey(s))).toBe(0);
      expect(await redis.xpending(shardKey(s), 'audit-writers')).toEqual([0, null, null, null]);
    }
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
