import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { TEST_JWT_SECRET } from './support/env';
import { Scrape } from './support/metrics';
import { freePort, MAIN_JS, ServiceProcess, startService, waitForHttp, WORKER_JS } from './support/process';
import { patchAccount } from './support/patch-account';
import { token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

/**
 * Scaling out, as real processes: 3 API processes (producers only) and 2 flush workers (`npm run worker`)
 * on one stream, under a load of audited PATCHes through all three APIs. Mid-run one worker is killed with
 * SIGKILL while it holds entries, and a new worker joins. Every request answered 2xx must then have exactly
 * one event, the dead worker's entries must have been reclaimed, every organization's chain must verify
 * and the stream's lag must be back at zero.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const GROUP = 'audit-writers';
const ORGS = ['org-scale-a', 'org-scale-b', 'org-scale-c'];
const ACCOUNTS_PER_ORG = 4;
const TOTAL = 4_000;
const KILL_AFTER = 1_200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Target {
  port: number;
  bearer: string;
  account: string;
}

interface Load {
  /** Request ids of the requests answered 2xx. */
  ok: string[];
  failed: number;
  sent: number;
  done: Promise<void>;
}

/** PATCH /accounts/:id with a fresh X-Request-Id each, one loop per target, up to `total` in all. */
function patchLoad(targets: Target[], total: number): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: targets.length });
  const load: Load = { ok: [], failed: 0, sent: 0, done: Promise.resolve() };
  const one = async (target: Target, i: number) => {
    const requestId = `scale-${i}-${randomBytes(4).toString('hex')}`;
    if (await patchAccount(agent, target, requestId, `name ${i}`)) load.ok.push(requestId);
    else load.failed++;
  };
  const loop = async (target: Target) => {
    while (load.sent < total) await one(target, load.sent++);
  };
  load.done = Promise.all(targets.map(loop)).then(() => agent.destroy());
  return load;
}

async function metrics(port: number): Promise<Scrape> {
  return new Scrape(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

/** Pending entries per consumer of the group (XPENDING summary form). */
async function pendingByConsumer(redis: Redis, streamKey: string): Promise<Map<string, number>> {
  const [, , , consumers] = (await redis.xpending(streamKey, GROUP)) as [
    number,
    string | null,
    string | null,
    Array<[string, string]> | null,
  ];
  return new Map((consumers ?? []).map(([name, count]) => [name, Number(count)]));
}

/** A worker's consumers are named `<host>:<pid>:<n>`. */
const ownedBy = (name: string, pid: number) => name.split(':').at(-2) === String(pid);

// Five to six Nest processes, Postgres and Redis on a shared 2-core machine.
jest.setTimeout(360_000);

describe('3 API processes and 2 flush workers on one stream', () => {
  let db: TestDatabase;
  let redis: Redis;
  const streamKey = `audit-test:scale:${randomBytes(6).toString('hex')}`;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const service of services.splice(0)) service.child.kill('SIGKILL');
    await redis.del(streamKey, `${streamKey}:dead`);
    redis.disconnect();
    await db.drop();
  });

  const start = async (script: string, env: Record<string, string> = {}) => {
    const port = await freePort();
    const service = startService(
      {
        PORT: String(port),
        DATABASE_URL: db.url,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'warn',
        DEMO_AUDIT_CONSISTENCY: 'request', // events go through the stream, not the request's transaction
        AUDIT_DELIVERY: 'redis',
        REDIS_URL,
        AUDIT_STREAM_KEY: streamKey,
        AUDIT_CLAIM_IDLE_MS: '1500',
        ...env,
      },
      script,
    );
    services.push(service);
    await waitForHttp(`http://127.0.0.1:${port}/health/live`, service);
    return { port, service };
  };

  it('keeps every acknowledged event exactly once through a worker kill -9 and a new worker', async () => {
    const apis = await Promise.all([1, 2, 3].map(() => start(MAIN_JS, { AUDIT_STREAM_CONSUMERS: '0' })));
    const workers = await Promise.all([1, 2].map(() => start(WORKER_JS)));

    const bearers = await Promise.all(
      ORGS.map((org) => token({ sub: `u-${org}`, org, roles: ['audit:read'] })),
    );
    const targets: Target[] = [];
    for (let i = 0; i < ORGS.length * ACCOUNTS_PER_ORG; i++) {
      const { port } = apis[i % apis.length];
      const bearer = bearers[i % ORGS.length];
      const response = await fetch(`http://127.0.0.1:${port}/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `a${i}`,
          email: `a${i}@example.com`,
          plan: 'free',
          password: 'secret-pass',
        }),
      });
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: string };
      // Each account is updated through another API process than the one that created it.
      targets.push({ port: apis[(i + 1) % apis.length].port, bearer, account: id });
    }

    const load = patchLoad(targets, TOTAL);
    let maxLag = 0;
    const sampling = (async () => {
      while (load.sent < TOTAL) {
        maxLag = Math.max(maxLag, (await metrics(workers[1].port)).value('audit_stream_lag') ?? 0);
        await sleep(100);
      }
    })();

    // Kill -9 a worker while it holds entries: frozen first, so what it holds is known when it dies.
    while (load.ok.length < KILL_AFTER) await sleep(20);
    const victim = workers[0].service.child;
    let held = 0;
    for (let attempt = 0; attempt < 500 && held === 0; attempt++) {
      victim.kill('SIGSTOP');
      const pending = await pendingByConsumer(redis, streamKey);
      held = [...pending].filter(([name]) => ownedBy(name, victim.pid!)).reduce((n, [, c]) => n + c, 0);
      if (held === 0) {
        victim.kill('SIGCONT');
        await sleep(5);
      }
    }
    victim.kill('SIGKILL');
    expect(await workers[0].service.exited).toBe('SIGKILL');
    expect(held).toBeGreaterThan(0);
    const added = await start(WORKER_JS);

    await load.done;
    await sampling;
    expect({ ok: load.ok.length, failed: load.failed }).toEqual({ ok: TOTAL, failed: 0 });

    // Drained: nothing left in the stream, nothing pending for any consumer (the dead one's included).
    for (let i = 0; i < 600; i++) {
      const [length, [pending]] = await Promise.all([
        redis.xlen(streamKey),
        redis.xpending(streamKey, GROUP) as Promise<[number]>,
      ]);
      if (length === 0 && pending === 0) break;
      await sleep(100);
    }
    expect(await redis.xlen(streamKey)).toBe(0);
    expect(await redis.xpending(streamKey, GROUP)).toEqual([0, null, null, null]);
    const reclaimed = [workers[1], added]
      .flatMap(({ service }) => [...service.output().matchAll(/Reclaimed (\d+) audit events/g)])
      .reduce((n, match) => n + Number(match[1]), 0);
    expect(reclaimed).toBeGreaterThanOrEqual(held);

    // Every acknowledged request has exactly one event; no event id is stored twice.
    const { rows } = await db.sql.query<{ request_id: string; n: number }>(
      `SELECT request_id, count(*)::int AS n FROM audit_events WHERE request_id = ANY($1) GROUP BY 1`,
      [load.ok],
    );
    const duplicatedIds = await db.sql.query(`SELECT id FROM audit_events GROUP BY id HAVING count(*) > 1`);
    expect({
      requests: rows.length,
      eventsOtherThanOne: rows.filter((row) => row.n !== 1).length,
      duplicatedIds: duplicatedIds.rowCount,
    }).toEqual({ requests: TOTAL, eventsOtherThanOne: 0, duplicatedIds: 0 });

    // Every organization's chain verifies, over everything the three APIs wrote.
    const root = await token({ sub: 'root', roles: ['audit:admin', 'audit:read:all'] });
    const verify = await fetch(`http://127.0.0.1:${apis[0].port}/audit/integrity/verify`, {
      headers: { authorization: `Bearer ${root}` },
    });
    expect(verify.status).toBe(200);
    const report = (await verify.json()) as {
      ok: boolean;
      checkedEvents: number;
      chains: Array<{ organizationId: string }>;
    };
    expect(report.ok).toBe(true);
    expect(report.checkedEvents).toBeGreaterThanOrEqual(TOTAL);
    expect(report.chains.map((chain) => chain.organizationId).sort()).toEqual(expect.arrayContaining(ORGS));

    // The lag gauge saw a backlog under load and is back at zero (stats are polled every 500 ms).
    expect(maxLag).toBeGreaterThan(0);
    let gauges: Record<string, number | undefined> = {};
    for (let i = 0; i < 50; i++) {
      const scrape = await metrics(added.port);
      gauges = Object.fromEntries(
        ['audit_stream_lag', 'audit_stream_pending', 'audit_stream_length'].map((name) => [
          name,
          scrape.value(name),
        ]),
      );
      if (Object.values(gauges).every((value) => value === 0)) break;
      await sleep(100);
    }
    expect(gauges).toEqual({ audit_stream_lag: 0, audit_stream_pending: 0, audit_stream_length: 0 });
  });
});
