import 'reflect-metadata';
import Redis from 'ioredis';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { toQueued } from '../../src/audit/audit-writer.service';
import { serializeQueued } from '../../src/audit/delivery/queued-event.codec';
import { appEnv } from '../lib/app';
import { freePort } from '../lib/ports';
import { busyShare, CpuMeter, machineTicks, processCpuSeconds } from '../lib/cpu';
import { BenchDatabase, countAuditEvents, resetAuditEvents, withBenchDatabase } from '../lib/bench-db';
import { createEventBuilder, makeRecordInputs } from '../lib/events';
import { parseFlags, withPreset } from '../lib/flags';
import { rotated } from '../lib/interleave';
import { writeResults } from '../lib/results';
import { median } from '../lib/stats';
import { formatNumber, formatRatio, printTable } from '../lib/table';

/**
 * Flush workers, measured: how fast 1 and 2 worker processes (`npm run worker`, each with `--consumers`
 * consumers) drain a pre-filled stream into Postgres. Per rep and variant: the workers start on an empty
 * stream and are frozen (SIGSTOP), the backlog is written, the clock starts as they are resumed and stops
 * when every event is a row. Variants are interleaved, the order rotated per rep.
 */
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The built worker, as `npm run worker` runs it (this file is dist/bench/workers/workers.bench.js). */
const WORKER_JS = join(__dirname, '..', '..', 'demo', 'worker.js');
const GROUP = 'audit-writers';

function readFlags() {
  const flags = parseFlags({ backlog: 200_000, reps: 3, workers: '1,2', consumers: 2, quick: false });
  return flags.quick ? withPreset(flags, { backlog: 50_000, reps: 2 }) : flags;
}
type Flags = ReturnType<typeof readFlags>;

interface Drain {
  workers: number;
  rep: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  eventsPerSecPerWorker: number;
  /** CPU of the worker processes and of the database's Postgres backends during the drain, per event. */
  workerCpuUsPerEvent: number;
  postgresCpuUsPerEvent: number | null;
  /** Share of the machine's CPU busy during the drain (this run and anything else on the machine). */
  machineBusy: number;
}

interface Worker {
  child: ChildProcess;
  output(): string;
  exited: Promise<void>;
}

async function main(): Promise<void> {
  const flags = readFlags();
  const variants = flags.workers.split(',').map(Number);
  const redis = new Redis(REDIS_URL);
  try {
    const drains = await withBenchDatabase(async (db) => {
      const runs: Drain[] = [];
      const queued = backlog(flags.backlog);
      for (let rep = 1; rep <= flags.reps; rep++) {
        for (const workers of rotated(variants, rep)) {
          const run = await drain(db, redis, queued, workers, flags, rep);
          console.error(
            `  rep ${rep}/${flags.reps}, ${workers} worker(s): ${formatNumber(run.events)} events in ` +
              `${run.seconds.toFixed(1)} s = ${formatNumber(run.eventsPerSec)} events/s ` +
              `(${formatNumber(run.eventsPerSecPerWorker)} per worker; CPU us/event: workers ` +
              `${run.workerCpuUsPerEvent.toFixed(1)}, Postgres ${run.postgresCpuUsPerEvent?.toFixed(1) ?? '-'}; ` +
              `machine ${Math.round(run.machineBusy * 100)}% busy)`,
          );
          runs.push(run);
        }
      }
      return runs;
    });
    report(drains, variants, flags);
  } finally {
    redis.disconnect();
  }
}

/** Real events (what capture of account updates leaves, 20 organizations), encoded once. */
function backlog(count: number): string[] {
  const build = createEventBuilder();
  const inputs = makeRecordInputs(Math.min(count, 50_000));
  return Array.from({ length: count }, (_, i) => serializeQueued(toQueued(build(inputs[i % inputs.length]))));
}

async function drain(
  db: BenchDatabase,
  redis: Redis,
  queued: string[],
  count: number,
  flags: Flags,
  rep: number,
): Promise<Drain> {
  await resetAuditEvents(db.sql);
  const streamKey = `audit-bench:workers:${randomBytes(5).toString('hex')}`;
  await redis.xgroup('CREATE', streamKey, GROUP, '0', 'MKSTREAM');
  const workers = await Promise.all(
    Array.from({ length: count }, () => startWorker(db.url, streamKey, flags.consumers)),
  );
  try {
    // Frozen while the backlog is written: the drain is timed from a full stream, not from their boot.
    for (const worker of workers) worker.child.kill('SIGSTOP');
    for (let i = 0; i < queued.length;) {
      const pipeline = redis.pipeline();
      for (const end = Math.min(queued.length, i + 2000); i < end; i++)
        pipeline.xadd(streamKey, '*', 'e', queued[i]);
      await pipeline.exec();
    }
    const meter = new CpuMeter(db.sql);
    await meter.start();
    const workerCpu = () => workers.reduce((sum, w) => sum + (processCpuSeconds(w.child.pid!) ?? 0), 0);
    const [cpuBefore, ticksBefore] = [workerCpu(), machineTicks()];
    const started = performance.now();
    for (const worker of workers) worker.child.kill('SIGCONT');
    await waitForRows(db, queued.length);
    const seconds = (performance.now() - started) / 1000;
    const [cpuAfter, ticksAfter, cpu] = [workerCpu(), machineTicks(), await meter.stop()];
    const eventsPerSec = queued.length / seconds;
    const perEvent = (cpuSeconds: number) => (cpuSeconds * 1e6) / queued.length;
    return {
      workers: count,
      rep,
      events: queued.length,
      seconds,
      eventsPerSec,
      eventsPerSecPerWorker: eventsPerSec / count,
      workerCpuUsPerEvent: perEvent(cpuAfter - cpuBefore),
      postgresCpuUsPerEvent: cpu.postgresSeconds === null ? null : perEvent(cpu.postgresSeconds),
      machineBusy: busyShare(ticksBefore, ticksAfter),
    };
  } finally {
    await Promise.all(workers.map(stopWorker));
    await redis.del(streamKey, `${streamKey}:dead`);
  }
}

/** `npm run worker` as a child process, up once /health/live answers. */
async function startWorker(databaseUrl: string, streamKey: string, consumers: number): Promise<Worker> {
  const port = await freePort();
  const env = {
    ...process.env,
    ...appEnv(databaseUrl, {
      PORT: String(port),
      AUDIT_DELIVERY: 'redis',
      REDIS_URL,
      AUDIT_STREAM_KEY: streamKey,
      AUDIT_STREAM_CONSUMERS: String(consumers),
    }),
  };
  const child = spawn(process.execPath, [WORKER_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const worker: Worker = {
    child,
    output: () => output,
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  for (let i = 0; i < 300 && child.exitCode === null; i++) {
    const live = await fetch(`http://127.0.0.1:${port}/health/live`).then(
      (response) => response.ok,
      () => false,
    );
    if (live) return worker;
    await sleep(200);
  }
  await stopWorker(worker);
  throw new Error(`The worker did not come up:\n${output}`);
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGCONT');
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 15_000);
  await worker.exited;
  clearTimeout(timer);
}

async function waitForRows(db: BenchDatabase, count: number): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const rows = await countAuditEvents(db.sql);
    if (rows >= count) {
      if (rows !== count) throw new Error(`${rows} rows for ${count} events: duplicates`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`drain stalled at ${rows} rows`);
    await sleep(50);
  }
}

function report(drains: Drain[], variants: number[], flags: Flags): void {
  const summary = variants.map((workers) => {
    const runs = drains.filter((d) => d.workers === workers);
    const rates = runs.map((d) => d.eventsPerSec);
    return {
      workers,
      reps: runs.length,
      eventsPerSec: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      eventsPerSecPerWorker: median(runs.map((d) => d.eventsPerSecPerWorker)),
      workerCpuUsPerEvent: median(runs.map((d) => d.workerCpuUsPerEvent)),
      postgresCpuUsPerEvent: median(runs.map((d) => d.postgresCpuUsPerEvent ?? NaN)),
      machineBusy: median(runs.map((d) => d.machineBusy)),
    };
  });
  const base = summary[0].eventsPerSec;
  printTable(
    `Drain of a pre-filled stream of ${formatNumber(flags.backlog)} events, ${flags.consumers} consumers per worker (medians over ${flags.reps} reps)`,
    [
      'workers',
      'events/s',
      'min',
      'max',
      'per worker',
      `vs ${summary[0].workers}`,
      'worker CPU us/event',
      'Postgres CPU us/event',
      'machine busy',
    ],
    summary.map((s) => [
      s.workers,
      Math.round(s.eventsPerSec),
      Math.round(s.min),
      Math.round(s.max),
      Math.round(s.eventsPerSecPerWorker),
      formatRatio(s.eventsPerSec / base),
      s.workerCpuUsPerEvent.toFixed(1),
      Number.isNaN(s.postgresCpuUsPerEvent) ? '-' : s.postgresCpuUsPerEvent.toFixed(1),
      `${Math.round(s.machineBusy * 100)}%`,
    ]),
  );
  const file = writeResults('workers', { flags, summary, drains });
  console.log(`\nResults: ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
