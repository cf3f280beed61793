import 'reflect-metadata';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditService } from '../../src/audit';
import { toQueued } from '../../src/audit/audit-writer.service';
import { DiskSpool } from '../../src/audit/delivery/disk-spool';
import { serializeQueued } from '../../src/audit/delivery/queued-event.codec';
import { benchToken, ServiceProcess, startInProcessApp, startServiceProcess } from '../lib/app';
import { pendingAuditEvents } from '../lib/audit-drain';
import { BenchDatabase, countAuditEvents, resetAuditEvents, withBenchDatabase } from '../lib/bench-db';
import { barChartSvg } from '../lib/chart';
import { createEventBuilder, makeRecordInputs } from '../lib/events';
import { parseFlags, withPreset } from '../lib/flags';
import { HTTP_LOAD_FLAGS, LoadResult, patchAccountRequest, runLoad } from '../lib/http-load';
import { rotated } from '../lib/interleave';
import { resultStamp, writeBenchFile, writeResults } from '../lib/results';
import { seedAccounts } from '../lib/seed';
import { median } from '../lib/stats';
import { formatNumber, formatRatio, printTable } from '../lib/table';

/**
 * Durable delivery, measured:
 * 1. audited PATCH throughput and p99 in memory mode and in redis mode against the same service unaudited,
 *    interleaved reps in one run (target: redis >= 0.75x unaudited);
 * 2. the time to drain a backlog left by an outage: N events waiting in the Redis stream (consumers
 *    start on it) and N events waiting in the disk spool (memory mode), each into an empty table
 *    (target: >= 30k events/s).
 */
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ORG = 'org_bench';
const VARIANTS = ['unaudited', 'memory', 'redis'] as const;
type Variant = (typeof VARIANTS)[number];
const THROUGHPUT_TARGET = 0.75;
const DRAIN_TARGET = 30_000;

function readFlags() {
  const flags = parseFlags({ ...HTTP_LOAD_FLAGS, backlog: 1_000_000, quick: false, skipHttp: false });
  return flags.quick
    ? withPreset(flags, { duration: 3, warmup: 1, reps: 2, accounts: 100, backlog: 100_000 })
    : flags;
}
type Flags = ReturnType<typeof readFlags>;

interface Run extends LoadResult {
  variant: Variant;
  rep: number;
}

async function main(): Promise<void> {
  const flags = readFlags();
  const stamp = resultStamp();
  const streamKey = `audit-bench:${randomBytes(5).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  try {
    const runs = flags.skipHttp ? [] : await withBenchDatabase((db) => throughput(db, flags, streamKey));
    const drains = {
      stream: await withBenchDatabase((db) => drainStream(db, flags.backlog, `${streamKey}:drain`, redis)),
      spool: await withBenchDatabase((db) => drainSpool(db, flags.backlog)),
    };
    report(runs, drains, flags, stamp);
  } finally {
    await redis.del(streamKey, `${streamKey}:dead`, `${streamKey}:drain`, `${streamKey}:drain:dead`);
    redis.disconnect();
  }
}

async function throughput(db: BenchDatabase, flags: Flags, streamKey: string): Promise<Run[]> {
  const services: Record<Variant, ServiceProcess> = {
    unaudited: await startServiceProcess(db.url, { AUDIT_DISABLED: 'true' }),
    memory: await startServiceProcess(db.url, {}),
    redis: await startServiceProcess(db.url, {
      AUDIT_DELIVERY: 'redis',
      REDIS_URL,
      AUDIT_STREAM_KEY: streamKey,
    }),
  };
  try {
    const token = await benchToken({ sub: 'bench-user', org: ORG });
    console.error(`Seeding ${flags.accounts} accounts...`);
    const ids = await seedAccounts(services.unaudited.baseUrl, token, flags.accounts);
    const request = patchAccountRequest(ids);
    const load = (variant: Variant, durationSeconds: number) =>
      runLoad(
        { baseUrl: services[variant].baseUrl, token, connections: flags.connections, durationSeconds },
        request,
      );
    console.error('Priming the three services...');
    for (const variant of VARIANTS) await load(variant, Math.max(3, flags.warmup));
    const runs: Run[] = [];
    for (let rep = 1; rep <= flags.reps; rep++) {
      for (const variant of rotated(VARIANTS, rep)) {
        await settle(db, services);
        await load(variant, flags.warmup);
        const result = await load(variant, flags.duration);
        runs.push({ variant, rep, ...result });
        const failed = result.non2xx + result.errors;
        console.error(
          `  rep ${rep}/${flags.reps} PATCH ${variant}: ${formatNumber(result.requestsPerSec)} req/s, ` +
            `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms${failed ? `, ${failed} FAILED` : ''}`,
        );
      }
    }
    return runs;
  } finally {
    await Promise.all(Object.values(services).map((service) => service.stop()));
  }
}

/** Both audited services have written everything (buffer empty, stream empty), then the table is emptied. */
async function settle(db: BenchDatabase, services: Record<Variant, ServiceProcess>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const held = (await pendingAuditEvents(services.memory)) + (await streamBacklog(services.redis));
    if (held === 0) break;
    await sleep(100);
  }
  await resetAuditEvents(db.sql);
}

/** Stream entries not yet committed, from the readiness probe's `redis` check. */
async function streamBacklog(service: ServiceProcess): Promise<number> {
  const body = (await (await fetch(`${service.baseUrl}/health/ready`)).json()) as {
    details?: { redis?: { streamLength?: number } };
  };
  return (body.details?.redis?.streamLength ?? 0) + (await pendingAuditEvents(service));
}

interface Drain {
  events: number;
  seconds: number;
  eventsPerSec: number;
}

/** Real events, encoded once: the backlog is what capture would have left. */
function backlogEvents(count: number) {
  const build = createEventBuilder();
  const inputs = makeRecordInputs(Math.min(count, 50_000));
  return (i: number) => toQueued(build(inputs[i % inputs.length]));
}

async function drainStream(
  db: BenchDatabase,
  count: number,
  streamKey: string,
  redis: Redis,
): Promise<Drain> {
  console.error(`Filling the stream with ${formatNumber(count)} events...`);
  const next = backlogEvents(count);
  for (let i = 0; i < count;) {
    const pipeline = redis.pipeline();
    for (const end = Math.min(count, i + 2000); i < end; i++) {
      pipeline.xadd(streamKey, '*', 'e', serializeQueued(next(i)));
    }
    await pipeline.exec();
    if (i % 100_000 === 0) console.error(`  ${formatNumber(i)} / ${formatNumber(count)}`);
  }
  console.error('Starting the consumers (2, in-process) on the backlog...');
  const started = Date.now();
  const app = await startInProcessApp(db.url, {
    AUDIT_DELIVERY: 'redis',
    REDIS_URL,
    AUDIT_STREAM_KEY: streamKey,
  });
  try {
    await waitForRows(db, count, started);
    const seconds = (Date.now() - started) / 1000;
    return { events: count, seconds, eventsPerSec: count / seconds };
  } finally {
    await app.close();
  }
}

async function drainSpool(db: BenchDatabase, count: number): Promise<Drain> {
  console.error(`Filling a spool with ${formatNumber(count)} events...`);
  const directory = mkdtempSync(join(tmpdir(), 'audit-bench-drain-'));
  const spool = new DiskSpool({ directory, maxBytes: Number.MAX_SAFE_INTEGER, fsync: 'never' });
  const next = backlogEvents(count);
  for (let i = 0; i < count;) {
    const batch = [];
    for (const end = Math.min(count, i + 2000); i < end; i++) batch.push(next(i));
    await spool.append(batch, false);
  }
  spool.close();
  console.error('Starting a memory-mode app on the spool...');
  const started = Date.now();
  const app = await startInProcessApp(db.url, { AUDIT_SPOOL_DIR: directory });
  try {
    await waitForRows(db, count, started);
    const seconds = (Date.now() - started) / 1000;
    if (app.get(AuditService).stats().spooled !== 0)
      throw new Error('the spool is not empty after the drain');
    return { events: count, seconds, eventsPerSec: count / seconds };
  } finally {
    await app.close();
  }
}

async function waitForRows(db: BenchDatabase, count: number, started: number): Promise<void> {
  let last = 0;
  for (;;) {
    const rows = await countAuditEvents(db.sql);
    if (rows >= count) {
      if (rows !== count) throw new Error(`${rows} rows for ${count} events: duplicates`);
      return;
    }
    if (rows - last >= 100_000 || rows === 0) {
      console.error(`  ${formatNumber(rows)} rows after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      last = rows;
    }
    if (Date.now() - started > 30 * 60_000) throw new Error(`drain stalled at ${rows} rows`);
    await sleep(250);
  }
}

function report(runs: Run[], drains: Record<'stream' | 'spool', Drain>, flags: Flags, stamp: string): void {
  const summary = VARIANTS.map((variant) => {
    const group = runs.filter((r) => r.variant === variant);
    return {
      variant,
      requestsPerSec: median(group.map((r) => r.requestsPerSec)),
      p50Ms: median(group.map((r) => r.p50Ms)),
      p99Ms: median(group.map((r) => r.p99Ms)),
      failures: group.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
    };
  });
  const base = summary[0].requestsPerSec;
  const perRep = (variant: Variant) =>
    [...new Set(runs.map((r) => r.rep))].map((rep) => {
      const rps = (v: Variant) => runs.find((r) => r.variant === v && r.rep === rep)!.requestsPerSec;
      return Number((rps(variant) / rps('unaudited')).toFixed(3));
    });
  if (runs.length > 0) {
    printTable(
      `Audited PATCH /accounts/:id: ${flags.connections} connections, ${flags.duration} s x ${flags.reps} reps (medians)`,
      ['variant', 'req/s', 'vs unaudited', 'per rep', 'p50 ms', 'p99 ms', 'failed'],
      summary.map((s) => [
        s.variant,
        s.requestsPerSec,
        formatRatio(s.requestsPerSec / base),
        s.variant === 'unaudited' ? '' : perRep(s.variant).join(' '),
        s.p50Ms,
        s.p99Ms,
        s.failures,
      ]),
    );
  }
  printTable(
    'Backlog drain after an outage (empty table, events/s)',
    ['backlog in', 'events', 'seconds', 'events/s', 'target', 'result'],
    Object.entries(drains).map(([where, d]) => [
      where,
      d.events,
      d.seconds.toFixed(1),
      Math.round(d.eventsPerSec),
      `>= ${formatNumber(DRAIN_TARGET)}`,
      d.eventsPerSec >= DRAIN_TARGET ? 'PASS' : 'FAIL',
    ]),
  );
  const redisRatio = runs.length ? summary[2].requestsPerSec / base : null;
  if (redisRatio !== null) {
    console.log(
      `\nRedis mode / unaudited: ${formatRatio(redisRatio)} (target >= ${formatRatio(THROUGHPUT_TARGET)}: ${redisRatio >= THROUGHPUT_TARGET ? 'PASS' : 'FAIL'})`,
    );
  }
  const name = flags.quick ? 'durability-quick' : 'durability';
  const file = writeResults(name, { params: flags, summary, redisRatio, drains, runs }, stamp);
  const chart = barChartSvg({
    title: 'Durable delivery',
    subtitle: `npm run bench:durability${flags.quick ? ' -- --quick' : ''} · ${stamp}`,
    panels: [
      ...(runs.length
        ? [
            {
              title: 'PATCH req/s (median)',
              categories: ['PATCH /accounts/:id'],
              series: summary.map((s) => ({ name: s.variant, values: [Math.round(s.requestsPerSec)] })),
            },
            {
              title: 'PATCH p99 ms (median)',
              categories: ['PATCH /accounts/:id'],
              series: summary.map((s) => ({ name: s.variant, values: [s.p99Ms] })),
            },
          ]
        : []),
      {
        title: `Backlog drain, events/s (${formatNumber(flags.backlog)} events)`,
        categories: ['Redis stream', 'disk spool'],
        series: [
          {
            name: 'events/s',
            values: [drains.stream.eventsPerSec, drains.spool.eventsPerSec].map(Math.round),
          },
        ],
      },
    ],
  });
  const svg = writeBenchFile(join('bench', 'results', `${name}-${stamp}.svg`), chart);
  if (!flags.quick) writeBenchFile(join('bench', 'charts', 'durability.svg'), chart);
  console.log(`\nResults: ${file}\nChart: ${svg}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
