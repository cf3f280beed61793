import 'reflect-metadata';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditService } from '../../src/audit/audit.service';
import { RecordAuditEventInput } from '../../src/audit/audit.types';
import { loadConfig } from '../../src/config/environment';
import { startInProcessApp } from '../lib/app';
import { BenchDatabase, countAuditEvents, resetAuditEvents, withBenchDatabase } from '../lib/bench-db';
import { CpuMeter, CpuUse } from '../lib/cpu';
import { makeRecordInputs } from '../lib/events';
import { explicitFlags, parseFlags, withPreset } from '../lib/flags';
import { writeResults } from '../lib/results';
import { median } from '../lib/stats';
import { Cell, formatMiB, formatNumber, formatRatio, printTable } from '../lib/table';
import { runPipeline } from './pipeline-run';
import { rawCopy, RawRows, writeRawRows } from './raw-copy';

/** Distinct inputs cycled through by both variants (record() gives each event its own id). */
const INPUT_POOL = 5000;
const WARM_UP_EVENTS = 20_000;
const TARGET_RATIO = 1.1;
const TARGET_RSS_BYTES = 256 * 1024 * 1024;
const SWEEP = { flushConcurrency: [1, 2, 3], batchSize: [1000, 2000, 5000] };

interface WriterConfig {
  batchSize: number;
  flushConcurrency: number;
}

interface Run {
  kind: 'raw' | 'pipeline';
  rep: number;
  seconds: number;
  eventsPerSec: number;
  /** CPU microseconds per event: this process (record, encode, stream) and the Postgres backends. */
  nodeCpuUs: number;
  postgresCpuUs: number | null;
  peakRssBytes?: number;
  peakPending?: number;
  dropped?: number;
}

interface ConfigResult {
  config: WriterConfig;
  /** RSS after the app started and warmed up, before the measured runs. */
  baselineRssBytes: number;
  runs: Run[];
}

const defaults = loadConfig({}).audit;

function readFlags() {
  const flags = parseFlags({
    events: 200_000,
    reps: 5,
    sweep: false,
    quick: false,
    batch: defaults.batchSize,
    concurrency: defaults.flushConcurrency,
    'high-water': defaults.maxBuffer,
  });
  if (flags.quick)
    return withPreset(flags, flags.sweep ? { events: 20_000, reps: 1 } : { events: 50_000, reps: 3 });
  // Nine configurations: fewer events and reps than a single-configuration run, unless asked.
  if (flags.sweep) return withPreset(flags, { events: 100_000, reps: 3 });
  return flags;
}
type Flags = ReturnType<typeof readFlags>;

async function main(): Promise<void> {
  const flags = readFlags();
  const inputs = makeRecordInputs(INPUT_POOL);
  const raw = writeRawRows(join(tmpdir(), `audit-bench-${process.pid}.copy`), inputs, flags.events);
  try {
    console.log(
      `Average encoded event: ${(raw.bytes / raw.rows).toFixed(0)} bytes (${raw.rows} rows, ${formatMiB(raw.bytes)})`,
    );
    const { results, migrations } = await withBenchDatabase(async (db) => {
      const done: ConfigResult[] = [];
      for (const config of configsToRun(flags)) done.push(await benchConfig(db, raw, inputs, config, flags));
      return { results: done, migrations: db.migrations };
    });
    report(results, raw, flags, migrations);
  } finally {
    rmSync(raw.file, { force: true });
  }
}

function configsToRun(flags: Flags): WriterConfig[] {
  if (!flags.sweep) return [{ batchSize: flags.batch, flushConcurrency: flags.concurrency }];
  const explicit = explicitFlags();
  const batches = explicit.has('batch') ? [flags.batch] : SWEEP.batchSize;
  const concurrencies = explicit.has('concurrency') ? [flags.concurrency] : SWEEP.flushConcurrency;
  return concurrencies.flatMap((flushConcurrency) =>
    batches.map((batchSize) => ({ batchSize, flushConcurrency })),
  );
}

/** One app per writer config; its runs interleave with raw runs (raw, pipeline, raw, pipeline...). */
async function benchConfig(
  db: BenchDatabase,
  raw: RawRows,
  inputs: readonly RecordAuditEventInput[],
  config: WriterConfig,
  flags: Flags,
): Promise<ConfigResult> {
  const app = await startInProcessApp(db.url, {
    AUDIT_BATCH_SIZE: String(config.batchSize),
    AUDIT_FLUSH_CONCURRENCY: String(config.flushConcurrency),
  });
  const audit = app.get(AuditService);
  try {
    await runPipeline(audit, inputs, Math.min(WARM_UP_EVENTS, flags.events), flags['high-water']);
    const result: ConfigResult = { config, baselineRssBytes: process.memoryUsage.rss(), runs: [] };
    for (let rep = 1; rep <= flags.reps; rep++) {
      const rawRun = await timedRaw(db, raw, rep);
      const pipelineRun = await timedPipeline(db, audit, inputs, rep, flags);
      result.runs.push(rawRun, pipelineRun);
      console.error(
        `  ${label(config)}, rep ${rep}/${flags.reps}: raw ${formatNumber(rawRun.eventsPerSec)} ev/s, ` +
          `pipeline ${formatNumber(pipelineRun.eventsPerSec)} ev/s, peak RSS ${formatMiB(pipelineRun.peakRssBytes!)}`,
      );
    }
    return result;
  } finally {
    await app.close();
  }
}

async function timedRaw(db: BenchDatabase, raw: RawRows, rep: number): Promise<Run> {
  await resetAuditEvents(db.sql);
  const cpu = new CpuMeter(db.sql);
  await cpu.start();
  const seconds = await rawCopy(db.sql, raw);
  const used = await cpu.stop();
  await expectRows(db, raw.rows);
  return runOf('raw', rep, raw.rows, seconds, used);
}

async function timedPipeline(
  db: BenchDatabase,
  audit: AuditService,
  inputs: readonly RecordAuditEventInput[],
  rep: number,
  flags: Flags,
): Promise<Run> {
  await resetAuditEvents(db.sql);
  const cpu = new CpuMeter(db.sql);
  await cpu.start();
  const run = await runPipeline(audit, inputs, flags.events, flags['high-water']);
  const used = await cpu.stop();
  await expectRows(db, flags.events - run.dropped);
  if (run.dropped > 0) console.warn(`  ${run.dropped} events dropped (buffer full)`);
  return {
    ...runOf('pipeline', rep, flags.events, run.seconds, used),
    peakRssBytes: run.peakRssBytes,
    peakPending: run.peakPending,
    dropped: run.dropped,
  };
}

function runOf(kind: Run['kind'], rep: number, events: number, seconds: number, used: CpuUse): Run {
  const perEvent = (cpuSeconds: number) => Number(((cpuSeconds * 1e6) / events).toFixed(1));
  return {
    kind,
    rep,
    seconds: Number(seconds.toFixed(3)),
    eventsPerSec: Math.round(events / seconds),
    nodeCpuUs: perEvent(used.nodeSeconds),
    postgresCpuUs: used.postgresSeconds === null ? null : perEvent(used.postgresSeconds),
  };
}

async function expectRows(db: BenchDatabase, expected: number): Promise<void> {
  const actual = await countAuditEvents(db.sql);
  if (actual !== expected) throw new Error(`Expected ${expected} committed rows, found ${actual}`);
}

const label = (c: WriterConfig) => `batch ${c.batchSize}, concurrency ${c.flushConcurrency}`;
const runsOf = (r: ConfigResult, kind: Run['kind']) => r.runs.filter((run) => run.kind === kind);
const medianOf = (r: ConfigResult, kind: Run['kind'], field: (run: Run) => number | null | undefined) =>
  median(runsOf(r, kind).map((run) => field(run) ?? NaN));
const eventsPerSec = (r: ConfigResult, kind: Run['kind']) => medianOf(r, kind, (run) => run.eventsPerSec);
const ratioOf = (r: ConfigResult) => eventsPerSec(r, 'pipeline') / eventsPerSec(r, 'raw');
const peakRss = (r: ConfigResult) => Math.max(...runsOf(r, 'pipeline').map((run) => run.peakRssBytes!));
const peakPending = (r: ConfigResult) => Math.max(...runsOf(r, 'pipeline').map((run) => run.peakPending!));
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

function report(results: ConfigResult[], raw: RawRows, flags: Flags, migrations: string[]): void {
  const avgBytes = raw.bytes / raw.rows;
  const title = `Ingest: ${formatNumber(flags.events)} events x ${flags.reps} reps, ~${avgBytes.toFixed(0)} B/event`;
  if (flags.sweep) printSweep(title, results);
  else printSingle(title, results[0], avgBytes);
  const file = writeResults(flags.sweep ? 'ingest-sweep' : flags.quick ? 'ingest-quick' : 'ingest', {
    params: { events: flags.events, reps: flags.reps, highWater: flags['high-water'], inputPool: INPUT_POOL },
    migrations,
    eventSize: { averageBytes: Math.round(avgBytes), rows: raw.rows, totalBytes: raw.bytes },
    configs: results.map((r) => ({
      config: r.config,
      medianRawEventsPerSec: Math.round(eventsPerSec(r, 'raw')),
      medianPipelineEventsPerSec: Math.round(eventsPerSec(r, 'pipeline')),
      ratio: Number(ratioOf(r).toFixed(3)),
      peakRssBytes: peakRss(r),
      baselineRssBytes: r.baselineRssBytes,
      runs: r.runs,
    })),
  });
  console.log(`\nResults: ${file}`);
}

function printSingle(title: string, result: ConfigResult, avgBytes: number): void {
  const row = (name: string, kind: Run['kind']): Cell[] => {
    const values = runsOf(result, kind).map((run) => run.eventsPerSec);
    return [
      name,
      median(values),
      Math.min(...values),
      Math.max(...values),
      (median(values) * avgBytes) / 1024 / 1024,
      medianOf(result, kind, (run) => run.nodeCpuUs),
      medianOf(result, kind, (run) => run.postgresCpuUs),
    ];
  };
  printTable(
    title,
    ['variant', 'median ev/s', 'min', 'max', 'MiB/s', 'node CPU us/ev', 'PG CPU us/ev'],
    [row('raw COPY, 1 stream', 'raw'), row(`record() -> committed (${label(result.config)})`, 'pipeline')],
  );
  const ratio = ratioOf(result);
  printTable(
    'Targets',
    ['metric', 'value', 'target', 'result'],
    [
      [
        'pipeline / raw',
        formatRatio(ratio),
        `>= ${formatRatio(TARGET_RATIO)}`,
        verdict(ratio >= TARGET_RATIO),
      ],
      [
        'peak RSS during pipeline runs',
        formatMiB(peakRss(result)),
        `<= ${formatMiB(TARGET_RSS_BYTES)}`,
        verdict(peakRss(result) <= TARGET_RSS_BYTES),
      ],
      ['RSS before the runs (app warmed up)', formatMiB(result.baselineRssBytes), '-', '-'],
      ['peak pending events', formatNumber(peakPending(result)), '-', '-'],
    ],
  );
}

function printSweep(title: string, results: ConfigResult[]): void {
  printTable(
    `${title} (sweep)`,
    [
      'concurrency',
      'batch',
      'pipeline ev/s',
      'raw ev/s',
      'ratio',
      'node us/ev',
      'PG us/ev',
      'peak RSS',
      'peak pending',
    ],
    results.map((r) => [
      r.config.flushConcurrency,
      r.config.batchSize,
      eventsPerSec(r, 'pipeline'),
      eventsPerSec(r, 'raw'),
      formatRatio(ratioOf(r)),
      medianOf(r, 'pipeline', (run) => run.nodeCpuUs),
      medianOf(r, 'pipeline', (run) => run.postgresCpuUs),
      formatMiB(peakRss(r)),
      peakPending(r),
    ]),
  );
  const best = results.reduce((a, b) => (ratioOf(b) > ratioOf(a) ? b : a));
  console.log(`\nBest pipeline/raw ratio: ${label(best.config)} (${formatRatio(ratioOf(best))})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
