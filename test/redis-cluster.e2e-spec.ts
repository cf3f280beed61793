import { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { TEST_JWT_SECRET } from './support/env';
import { Scrape } from './support/metrics';
import { OwnRedisCluster, startOwnRedisCluster } from './support/own-services';
import { freePort, MAIN_JS, ServiceProcess, startService, waitForHttp, WORKER_JS } from './support/process';
import { patchAccount } from './support/patch-account';
import { token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

/**
 * Sharded streams on a real Redis Cluster (3 masters, 3 replicas, AOF always): 2 API processes and 2
 * workers, the stream in 6 shards; audited PATCHes of 6 organizations, each account updated by one
 * sequential loop; a replica takes over from a master (CLUSTER FAILOVER) in the middle of the load. Then:
 * every request answered 2xx has exactly one event, each loop's events are in the order it sent them, and
 * every organization's chain verifies.
 */
const GROUP = 'audit-writers';
const SHARDS = 6;
const ORGS = Array.from({ length: 6 }, (_, i) => `org-cluster-${i}`);
const LOOPS_PER_ORG = 3;
const PER_LOOP = 60;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Loop {
  port: number;
  bearer: string;
  account: string;
  name: string;
}

interface Load {
  ok: string[];
  failed: number;
  done: Promise<void>;
}

/** One sequential loop per account: request ids `<loop>-s<seq>`, so the order each loop sent is known. */
function sequentialLoad(loops: Loop[], perLoop: number): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: loops.length });
  const load: Load = { ok: [], failed: 0, done: Promise.resolve() };
  const one = async (loop: Loop, seq: number) => {
    const requestId = `${loop.name}-s${seq}`;
    if (await patchAccount(agent, loop, requestId, `n${seq}`)) load.ok.push(requestId);
    else load.failed++;
  };
  load.done = Promise.all(
    loops.map(async (loop) => {
      for (let seq = 0; seq < perLoop; seq++) await one(loop, seq);
    }),
  ).then(() => agent.destroy());
  return load;
}

// A 6-node Redis Cluster, four Nest processes and Postgres on a shared 2-core machine.
jest.setTimeout(240_000);

describe('sharded stream on a Redis Cluster', () => {
  let db: TestDatabase;
  let cluster: OwnRedisCluster;
  let client: Cluster;
  const streamKey = `audit-test:cluster:${randomBytes(6).toString('hex')}`;
  const shardKeys = Array.from({ length: SHARDS }, (_, i) => `{${streamKey}:${i}}`);
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    [db, cluster] = await Promise.all([createTestDatabase(), startOwnRedisCluster()]);
    client = new Cluster(cluster.urls.map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })));
  });
  afterAll(async () => {
    for (const service of services.splice(0)) service.child.kill('SIGKILL');
    client?.disconnect();
    await cluster?.destroy();
    await db?.drop();
  });

  const start = async (script: string, env: Record<string, string>) => {
    const port = await freePort();
    const service = startService(
      {
        PORT: String(port),
        DATABASE_URL: db.url,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'warn',
        DEMO_AUDIT_CONSISTENCY: 'request',
        AUDIT_DELIVERY: 'redis',
        AUDIT_REDIS_CLUSTER_NODES: cluster.urls.join(','),
        AUDIT_REDIS_SHARDS: String(SHARDS),
        AUDIT_STREAM_KEY: streamKey,
        AUDIT_CLAIM_IDLE_MS: '1500',
        ...env,
      },
      script,
    );
    services.push(service);
    await waitForHttp(`http://127.0.0.1:${port}/health/live`, service, 120_000);
    return { port, service };
  };

  /** The master serving a key now, as `127.0.0.1:<port>`. */
  const masterOf = async (key: string) => {
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
    const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
    return `${range[2][0]}:${range[2][1]}`;
  };

  it('keeps every acknowledged event once, in order per organization, through a master failover', async () => {
    const apis = await Promise.all([1, 2].map(() => start(MAIN_JS, { AUDIT_STREAM_CONSUMERS: '0' })));
    await Promise.all([1, 2].map(() => start(WORKER_JS, { AUDIT_STREAM_CONSUMERS: '1' })));

    // The shards spread over the masters: the write path is not one node's.
    const masters = await Promise.all(shardKeys.map(masterOf));
    expect(new Set(masters).size).toBeGreaterThanOrEqual(2);

    // Accounts created at once (each hashes a password): one per loop, through both APIs.
    const loops: Loop[] = await Promise.all(
      ORGS.flatMap((org, o) =>
        Array.from({ length: LOOPS_PER_ORG }, async (_, l): Promise<Loop> => {
          const bearer = await token({ sub: `u-${org}`, org, roles: ['audit:read'] });
          const { port } = apis[(o + l) % apis.length];
          const response = await fetch(`http://127.0.0.1:${port}/accounts`, {
            method: 'POST',
            headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              name: 'a',
              email: `a${o}-${l}@example.com`,
              plan: 'free',
              password: 'secret-pass',
            }),
          });
          expect(response.status).toBe(201);
          const { id } = (await response.json()) as { id: string };
          return { port, bearer, account: id, name: `${org}-l${l}` };
        }),
      ),
    );
    const total = loops.length * PER_LOOP;
    const load = sequentialLoad(loops, PER_LOOP);
    while (load.ok.length < total / 3) await sleep(20);
    // The replica of a master that serves shards takes over, mid-load.
    const replica = await cluster.replicaOf(Number(masters[0].split(':')[1]));
    await cluster.failover(replica);
    const failedOverAt = load.ok.length;
    expect(await masterOf(shardKeys[0])).toBe(`127.0.0.1:${replica.port}`);
    await load.done;
    expect(failedOverAt).toBeLessThan(total);
    expect({ ok: load.ok.length, failed: load.failed }).toEqual({ ok: total, failed: 0 });

    // Drained: every shard empty with nothing pending, and no API holds events in its spool.
    const drained = async () => {
      for (const key of shardKeys) {
        if ((await client.xlen(key)) !== 0) return false;
        if (((await client.xpending(key, GROUP)) as [number])[0] !== 0) return false;
      }
      for (const { port } of apis) {
        const metrics = new Scrape(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        if (metrics.value('audit_spool_events') !== 0) return false;
      }
      return true;
    };
    for (let i = 0; i < 300 && !(await drained()); i++) await sleep(200);
    expect(await drained()).toBe(true);

    const { rows } = await db.sql.query<{ request_id: string; n: number; us: string }>(
      `SELECT request_id, count(*)::int AS n, min((extract(epoch FROM occurred_at) * 1e6)::bigint)::text AS us
         FROM audit_events WHERE request_id = ANY($1) GROUP BY 1`,
      [load.ok],
    );
    const duplicatedIds = await db.sql.query(`SELECT id FROM audit_events GROUP BY id HAVING count(*) > 1`);
    expect({
      requests: rows.length,
      eventsOtherThanOne: rows.filter((row) => row.n !== 1).length,
      duplicatedIds: duplicatedIds.rowCount,
    }).toEqual({ requests: total, eventsOtherThanOne: 0, duplicatedIds: 0 });

    // Per loop (one organization's account, requests sent one after the other): occurred_at follows the sequence.
    const byLoop = new Map<string, Array<{ seq: number; at: number }>>();
    for (const row of rows) {
      const [, name, seq] = /^(.*)-s(\d+)$/.exec(row.request_id)!;
      byLoop.set(name, [...(byLoop.get(name) ?? []), { seq: Number(seq), at: Number(row.us) }]);
    }
    const outOfOrder = [...byLoop.values()].flatMap((events) => {
      const sorted = events.sort((a, b) => a.seq - b.seq);
      return sorted.filter((event, i) => i > 0 && event.at < sorted[i - 1].at);
    });
    expect({ loops: byLoop.size, outOfOrder: outOfOrder.length }).toEqual({
      loops: loops.length,
      outOfOrder: 0,
    });

    const root = await token({ sub: 'root', roles: ['audit:admin', 'audit:read:all'] });
    const verify = await fetch(`http://127.0.0.1:${apis[0].port}/audit/integrity/verify`, {
      headers: { authorization: `Bearer ${root}` },
    });
    const report = (await verify.json()) as { ok: boolean; chains: Array<{ organizationId: string }> };
    expect(report.ok).toBe(true);
    expect(report.chains.map((chain) => chain.organizationId)).toEqual(expect.arrayContaining(ORGS));
  });
});
