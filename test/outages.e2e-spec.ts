import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { AuditService } from '../src/audit';
import {
  createOwnDatabase,
  OwnPostgres,
  OwnRedis,
  startOwnPostgres,
  startOwnRedis,
} from './support/own-services';
import { startTestApp } from './support/test-app';

/**
 * Fault tests: Postgres and Redis instances of this file's own are stopped under load and started again.
 * What must hold: the service keeps answering, every acknowledged event is in Postgres exactly once
 * afterwards, and readiness says what is going on.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const OUTAGE_MS = Number(process.env.TEST_OUTAGE_MS ?? 30_000);
// An outage of OUTAGE_MS, the load around it and the backlog drain after it.
jest.setTimeout(OUTAGE_MS + 150_000);

/** Records events as fast as the pipeline acknowledges them, until stopped; returns the acknowledged ids. */
function load(audit: AuditService, label: string) {
  const acknowledged: string[] = [];
  let refused = 0;
  let running = true;
  const worker = async () => {
    let i = 0;
    while (running) {
      const event = await audit.recordDurable({
        action: 'update',
        resourceType: 'job',
        resourceId: `${label}-${i++}`,
        actor: { id: 'scheduler', type: 'system', organizationId: 'org-outage' },
        after: { i },
      });
      if (event) acknowledged.push(event.id);
      else refused++;
      // A steady stream (at most ~8,000 events/s from the 4 workers), not a busy loop: unbounded, the generator
      // outran the spool on a fast run and the buffer's high-water mark dropped events (a capacity limit the
      // overflow policy owns, not what this test is about).
      if (i % 10 === 0) await sleep(5);
    }
  };
  const workers = Promise.all([worker(), worker(), worker(), worker()]);
  return {
    acknowledged,
    refused: () => refused,
    stop: async () => {
      running = false;
      await workers;
    },
  };
}

async function stored(
  url: string,
  ids: string[],
): Promise<{ rows: number; distinct: number; missing: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT count(*)::int AS rows, count(DISTINCT id)::int AS distinct FROM audit_events WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const total = (await client.query(`SELECT count(*)::int AS n FROM audit_events`)).rows[0].n as number;
    return { rows: total, distinct: rows[0].distinct, missing: ids.length - rows[0].distinct };
  } finally {
    await client.end();
  }
}

describe('outages', () => {
  let pg: OwnPostgres;

  beforeAll(async () => {
    pg = await startOwnPostgres();
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it.each([
    ['memory', {}],
    [
      'redis',
      {
        AUDIT_DELIVERY: 'redis',
        REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
        AUDIT_STREAM_KEY: `audit-test:outage:${randomBytes(6).toString('hex')}`,
      },
    ],
  ])(
    `Postgres down for ${OUTAGE_MS / 1000} s under load (%s mode): events wait, nothing lost or duplicated, readiness 503 then 200`,
    async (mode, env: Record<string, string>) => {
      const url = await createOwnDatabase(pg, `outage_pg_${randomBytes(4).toString('hex')}`);
      const app: INestApplication = await startTestApp(url, { AUDIT_BATCH_SIZE: '200', ...env });
      try {
        const audit = app.get(AuditService);
        await request(app.getHttpServer()).get('/health/ready').expect(200);
        const traffic = load(audit, 'pg');
        await sleep(1_000);

        await pg.stop();
        const ackedAtStop = traffic.acknowledged.length;
        const ready = await request(app.getHttpServer()).get('/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body.error.database.status).toBe('down');
        await sleep(OUTAGE_MS);
        const spooledDuringOutage = audit.stats().spooled;
        const streamDuringOutage = audit.stats().stream?.length ?? 0;
        const ackedDuringOutage = traffic.acknowledged.length - ackedAtStop;
        await pg.start();

        await sleep(1_000);
        await traffic.stop();
        expect(await audit.flush(60_000)).toBe(true);

        expect(ackedDuringOutage).toBeGreaterThan(1000); // the service kept acknowledging throughout
        // The backlog waited on disk (memory mode) or in the Redis stream, not in the process's memory.
        if (mode === 'memory') expect(spooledDuringOutage).toBeGreaterThan(0);
        else expect(streamDuringOutage).toBeGreaterThan(1000);
        expect(traffic.refused()).toBe(0);
        const result = await stored(url, traffic.acknowledged);
        expect(result).toEqual({
          rows: traffic.acknowledged.length,
          distinct: traffic.acknowledged.length,
          missing: 0,
        });
        expect(audit.stats()).toMatchObject({ spooled: 0, pending: 0, dropped: 0 });
        await request(app.getHttpServer()).get('/health/ready').expect(200);
      } finally {
        await app.close();
      }
    },
  );

  describe('Redis', () => {
    let redis: OwnRedis;
    beforeAll(async () => {
      redis = await startOwnRedis();
    });
    afterAll(async () => {
      await redis?.destroy();
    });

    it('Redis stopped under load (redis mode): no crash, events fall back to the spool, the stream resumes when Redis returns', async () => {
      const url = await createOwnDatabase(pg, `outage_redis_${randomBytes(4).toString('hex')}`);
      const app = await startTestApp(url, {
        AUDIT_DELIVERY: 'redis',
        REDIS_URL: redis.url,
        AUDIT_STREAM_KEY: 'outage:events',
        AUDIT_CLAIM_IDLE_MS: '1000',
      });
      try {
        const audit = app.get(AuditService);
        const traffic = load(audit, 'redis');
        await sleep(1_000);
        const appendedBefore = audit.stats().stream!.appended;
        expect(appendedBefore).toBeGreaterThan(0);

        await redis.stop();
        await sleep(2_000);
        const ready = await request(app.getHttpServer()).get('/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body.error.redis.status).toBe('down');
        await sleep(3_000);
        const fellBack = audit.stats().stream!.fellBack;
        expect(fellBack).toBeGreaterThan(100);

        await redis.start();
        for (let i = 0; i < 100 && audit.stats().stream!.appended === appendedBefore; i++) await sleep(100);
        await sleep(1_000);
        await traffic.stop();
        expect(audit.stats().stream!.appended).toBeGreaterThan(appendedBefore); // back on the stream
        expect(await audit.flush(30_000)).toBe(true);

        expect(traffic.refused()).toBe(0);
        const result = await stored(url, traffic.acknowledged);
        expect(result).toEqual({
          rows: traffic.acknowledged.length,
          distinct: traffic.acknowledged.length,
          missing: 0,
        });
        await request(app.getHttpServer()).get('/health/ready').expect(200);
      } finally {
        await app.close();
      }
    });
  });
});
