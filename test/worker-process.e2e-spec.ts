import { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { AuditService } from '../src/audit';
import { TEST_JWT_SECRET } from './support/env';
import { startNotesApp } from './support/notes-app';
import { freePort, ServiceProcess, startService, waitForHttp, WORKER_JS } from './support/process';
import { createTestDatabase, TestDatabase } from './support/test-db';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `npm run worker` as a real process: it drains the stream an API process (no consumers) fills. */
describe('the worker process', () => {
  let db: TestDatabase;
  let api: INestApplication | undefined;
  let worker: ServiceProcess | undefined;
  const streamKey = `audit-test:worker:${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await api?.close();
    worker?.child.kill('SIGKILL');
    const redis = new Redis(REDIS_URL);
    await redis.del(streamKey, `${streamKey}:dead`);
    redis.disconnect();
    await db.drop();
  });

  it('refuses to start outside redis delivery, with a clear message', async () => {
    const refused = startService({ DATABASE_URL: db.url, AUTH_JWT_SECRET: TEST_JWT_SECRET }, WORKER_JS);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain('npm run worker needs AUDIT_DELIVERY=redis');
  });

  it('flushes what the API put in the stream, serving health and metrics but not the admin API', async () => {
    api = await startNotesApp(db.url, {
      delivery: 'redis',
      redis: { url: REDIS_URL, streamKey, consumers: 0 },
    });
    const audit = api.get(AuditService);
    for (let i = 0; i < 500; i++) {
      expect(
        await audit.recordDurable({ action: 'update', resourceType: 'job', resourceId: `w${i}` }),
      ).not.toBeNull();
    }

    const port = await freePort();
    worker = startService(
      {
        PORT: String(port),
        DATABASE_URL: db.url,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        AUDIT_DELIVERY: 'redis',
        REDIS_URL,
        AUDIT_STREAM_KEY: streamKey,
      },
      WORKER_JS,
    );
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, worker);
    let rows = 0;
    for (let i = 0; i < 200 && rows < 500; i++) {
      rows = (await db.sql.query(`SELECT count(*)::int AS n FROM audit_events`)).rows[0].n;
      if (rows < 500) await sleep(50);
    }
    expect(rows).toBe(500);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^audit_events_flushed_total 500$/m);
    expect((await fetch(`http://127.0.0.1:${port}/audit/events`)).status).toBe(404);
  });
});
