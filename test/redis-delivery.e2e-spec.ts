import { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import request from 'supertest';
import { AuditModuleOptions, AuditService } from '../src/audit';
import { AuditEventRepository } from '../src/audit/audit-event.repository';
import { deserializeQueued } from '../src/audit/delivery/queued-event.codec';
import { startNotesApp } from './support/notes-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const count = async (db: TestDatabase, where = 'true', params: unknown[] = []) =>
  (await db.sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE ${where}`, params)).rows[0]
    .n as number;

describe('Redis Streams delivery', () => {
  let db: TestDatabase;
  let redis: Redis;
  let streamKey: string;
  const apps: INestApplication[] = [];

  const start = async (redisOptions: Partial<NonNullable<AuditModuleOptions['redis']>>, extra = {}) => {
    const app = await startNotesApp(db.url, {
      delivery: 'redis',
      redis: { url: REDIS_URL, streamKey, claimIdleMs: 500, ...redisOptions },
      ...extra,
    });
    apps.push(app);
    return app;
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    // A stream of this test's own, so runs and tests never collide on the shared Redis.
    streamKey = `audit-test:${randomBytes(6).toString('hex')}`;
    redis = new Redis(REDIS_URL);
  });

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await redis.del(streamKey, `${streamKey}:dead`);
    redis.disconnect();
    await db.drop();
  });

  it('answers only once the event is in the stream; a worker flushes it to Postgres and trims the stream', async () => {
    const api = await start({ consumers: 0 }); // producer only, as an API process next to `npm run worker`
    const created = await request(api.getHttpServer()).post('/notes').expect(201);

    expect(await redis.xlen(streamKey)).toBe(1);
    const [[, fields]] = (await redis.xrange(streamKey, '-', '+')) as Array<[string, string[]]>;
    const queued = deserializeQueued(fields[1]);
    expect(queued).toMatchObject({ action: 'create', resourceType: 'note', organizationId: 'org-notes' });
    expect(await count(db)).toBe(0);

    const worker = await start({ consumers: 1 });
    expect(await worker.get(AuditService).flush(10_000)).toBe(true);
    const { rows } = await db.sql.query(`SELECT id, resource_id FROM audit_events`);
    expect(rows).toEqual([{ id: queued.id, resource_id: created.body.id }]);
    expect(await redis.xlen(streamKey)).toBe(0); // acknowledged entries are deleted
    expect(await redis.xpending(streamKey, 'audit-writers')).toEqual([0, null, null, null]);
  });

  it('moves a poison event to the dead-letter stream with its error and writes the rest of its batch', async () => {
    await db.sql.query(
      `ALTER TABLE audit_events ADD CONSTRAINT test_no_poison CHECK (resource_id IS DISTINCT FROM 'poison')`,
    );
    const app = await start({ consumers: 0 });
    const audit = app.get(AuditService);
    for (let i = 0; i < 30; i++) {
      await audit.recordDurable({
        action: 'update',
        resourceType: 'job',
        resourceId: i === 17 ? 'poison' : `job-${i}`,
        actor: { id: 'scheduler', type: 'system', organizationId: 'org-p' },
      });
    }
    const worker = await start({ consumers: 1 });
    expect(await worker.get(AuditService).flush(10_000)).toBe(true);

    expect(await count(db)).toBe(29);
    expect(await count(db, `resource_id = 'poison'`)).toBe(0);
    const dead = (await redis.xrange(`${streamKey}:dead`, '-', '+')) as Array<[string, string[]]>;
    expect(dead).toHaveLength(1);
    const entry = Object.fromEntries(chunk(dead[0][1]));
    expect(entry.error).toMatch(/^23514 .*test_no_poison/);
    expect(entry.line).toContain('\tpoison\t');
    expect(worker.get(AuditService).stats().poisoned).toBe(1);
  });

  it('reclaims the entries of a consumer that died, without duplicating what it had already committed', async () => {
    const producer = await start({ consumers: 0 });
    const audit = producer.get(AuditService);
    for (let i = 0; i < 50; i++) {
      await audit.recordDurable({
        action: 'update',
        resourceType: 'job',
        resourceId: `job-${i}`,
        actor: { id: 'scheduler', type: 'system', organizationId: 'org-r' },
      });
    }
    // A consumer takes all 50, commits the first 20 to Postgres, and dies before acknowledging anything.
    await redis.xgroup('CREATE', streamKey, 'audit-writers', '0', 'MKSTREAM').catch(() => undefined);
    const reply = (await redis.xreadgroup(
      'GROUP',
      'audit-writers',
      'ghost',
      'COUNT',
      100,
      'STREAMS',
      streamKey,
      '>',
    )) as Array<[string, Array<[string, string[]]>]>;
    const events = reply[0][1].map(([, fields]) => deserializeQueued(fields[1]));
    expect(events).toHaveLength(50);
    const pool = new Pool({ connectionString: db.url, max: 1 });
    await new AuditEventRepository(pool).copy(events.slice(0, 20).map((event) => event.line));
    await pool.end();

    const worker = await start({ consumers: 1, claimIdleMs: 500 });
    expect(await worker.get(AuditService).flush(15_000)).toBe(true);
    expect(await count(db)).toBe(50);
    const { rows } = await db.sql.query(
      `SELECT count(DISTINCT id)::int AS n FROM audit_events WHERE id = ANY($1::uuid[])`,
      [events.map((event) => event.id)],
    );
    expect(rows[0].n).toBe(50);
    expect(await redis.xlen(streamKey)).toBe(0);
  });

  it('keeps the stream under its high-water mark: non-critical events are dropped (counted), critical ones kept, strict routes answer 503', async () => {
    const app = await start({ consumers: 0, maxStreamLength: 1000 });
    const audit = app.get(AuditService);
    let accepted = 0;
    for (let i = 0; i < 1100; i++) {
      const event = await audit.recordDurable({ action: 'update', resourceType: 'job', resourceId: `j${i}` });
      if (event) accepted++;
    }
    expect(accepted).toBe(1000);
    expect(audit.stats().droppedByReason.high_water).toBe(100);

    await request(app.getHttpServer()).post('/strict-notes').expect(503);
    await request(app.getHttpServer()).post('/notes').expect(201); // accepted, the loss is counted
    await request(app.getHttpServer()).delete('/notes/n1').expect(200); // critical: always kept
    expect(await redis.xlen(streamKey)).toBe(1001);
    expect(audit.stats().droppedByReason.high_water).toBe(101);
  });
});

function chunk(fields: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) pairs.push([fields[i], fields[i + 1]]);
  return pairs;
}
