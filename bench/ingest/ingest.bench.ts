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
import { rotated } from '../lib/interleave';
import { formatMiB, formatNumber } from '../lib/table';
import { runPipeline } from './pipeline-run';
import { captureRows, psqlAvailable, psqlCopy, rawCopy, RawRows } from './raw-copy';
import { ConfigResult, label, report, Run, RunKind, WriterConfig } from './report';
import { measureStages, StageCosts } from './stages';
import { PersonalDataService } from '../../src/audit/personal-data/personal-data.service';
import { median } from '../lib/stats';

/** Distinct inputs cycled through by the pipeline runs (record() gives each event its own id). */
const INPUT_POOL = 5000;
const WARM_UP_EVENTS = 20_000;
/** The stage breakdown: this many events, three times (median of each stage). */
const STAGE_EVENTS = 20_000;
const SWEEP = { flushConcurrency: [1, 2, 3], batchSize: [1000, 2000, 5000] };

const defaults = loadConfig({}).audit;
const MiB = 1024 * 1024;

function readFlags() {
  const flags = parseFlags({
    events: 200_000,
    reps: 7,
    sweep: false,
    quick: false,
    psql: true,
    batch: defaults.batchSize,
    concurrency: defaults.flushConcurrency,
    'high-water': defaults.maxBuffer,
    'max-buffer-mb': defaults.maxBufferBytes / MiB,
  });
  if (flags.quick)
    return withPreset(flags, flags.sweep ? { events: 20_000, reps: 1 } : { events: 50_000, reps: 3 });
  // Nine configurations: fewer events and reps than a single-configuration run, unless asked.
  if (flags.sweep) return withPreset(flags, { events: 100_000, reps: 3 });
  return flags;
}
export type Flags = ReturnType<typeof readFlags>;

async function main(): Promise<void> {
  const flags = readFlags();
  const inputs = makeRecordInputs(INPUT_POOL);
  const withPsql = flags.psql && (await psqlAvailable());
  if (flags.psql && !withPsql) console.warn('psql not found (set BENCH_PSQL): psql \\copy runs skipped');
  const file = join(tmpdir(), `audit-bench-${process.pid}.copy`);
  try {
    const outcome = await withBenchDatabase(async (db) => {
      const done: ConfigResult[] = [];
      let raw: RawRows | null = null;
      for (const config of configsToRun(flags)) {
        const app = await startInProcessApp(db.url, {
          AUDIT_BATCH_SIZE: String(config.batchSize),
          AUDIT_FLUSH_CONCURRENCY: String(config.flushConcurrency),
          AUDIT_MAX_BUFFER_MB: String(flags['max-buffer-mb']),
        });
        try {
          const audit = app.get(AuditService);
          // The first warm-up is a full run on the new (empty) database: its rows become the raw runs' file.
          const warmUp = raw ? Math.min(WARM_UP_EVENTS, flags.events) : flags.events;
          await runPipeline(audit, inputs, warmUp, flags['high-water'], flags['max-buffer-mb'] * MiB);
          if (!raw) {
            raw = await captureRows(db.sql, file);
            console.log(
              `Average stored event: ${(raw.bytes / raw.rows).toFixed(0)} bytes of COPY text (${raw.rows} rows, ${formatMiB(raw.bytes)})`,
            );
          }
          const result = await benchConfig(db, audit, raw, inputs, config, flags, withPsql);
          result.stages = stagesOf(audit, app.get(PersonalDataService), inputs);
          done.push(result);
        } finally {
          await app.close();
        }
      }
      return { results: done, migrations: db.migrations, raw: raw! };
    });
    report(outcome.results, outcome.raw, flags, outcome.migrations, INPUT_POOL);
  } finally {
    rmSync(file, { force: true });
  }
}

function stagesOf(
  audit: AuditService,
  personal: PersonalDataService,
  inputs: readonly RecordAuditEventInput[],
): StageCosts {
  const rounds = [1, 2, 3].map(() => measureStages(audit, personal, inputs, STAGE_EVENTS));
  const of = (stage: keyof StageCosts) => median(rounds.map((round) => round[stage]));
  return { buildUs: of('buildUs'), protectUs: of('protectUs'), encodeUs: of('encodeUs') };
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

/**
 * One app per writer config; its runs interleave with the raw ones, the order rotated each rep (raw, psql,
 * pipeline; psql, pipeline, raw; ...), so a drift of the shared machine does not favour one variant.
 */
async function benchConfig(
  db: BenchDatabase,
  audit: AuditService,
  raw: RawRows,
  inputs: readonly RecordAuditEventInput[],
  config: WriterConfig,
  flags: Flags,
  withPsql: boolean,
): Promise<ConfigResult> {
  const result: ConfigResult = { config, baselineRssBytes: process.memoryUsage.rss(), runs: [] };
  const kinds: RunKind[] = withPsql ? ['raw', 'psql', 'pipeline'] : ['raw', 'pipeline'];
  for (let rep = 1; rep <= flags.reps; rep++) {
    const runs: Run[] = [];
    for (const kind of rotated(kinds, rep)) {
      await resetAuditEvents(db.sql);
      const cpu = new CpuMeter(db.sql);
      await cpu.start();
      let run: Run;
      if (kind === 'pipeline') {
        run = await timedPipeline(audit, inputs, rep, flags, cpu);
      } else {
        const seconds = kind === 'raw' ? await rawCopy(db.sql, raw) : await psqlCopy(db.url, raw);
        run = runOf(kind, rep, raw.rows, seconds, await cpu.stop());
      }
      await expectRows(db, run.kind === 'pipeline' ? flags.events - (run.dropped ?? 0) : raw.rows);
      runs.push(run);
    }
    result.runs.push(...runs);
    const rate = (kind: RunKind) => runs.find((run) => run.kind === kind)?.eventsPerSec;
    const pipeline = runs.find((run) => run.kind === 'pipeline')!;
    console.error(
      `  ${label(config)}, rep ${rep}/${flags.reps}: raw ${formatNumber(rate('raw')!)} ev/s` +
        (withPsql ? `, psql ${formatNumber(rate('psql')!)} ev/s` : '') +
        `, pipeline ${formatNumber(pipeline.eventsPerSec)} ev/s, peak RSS ${formatMiB(pipeline.peakRssBytes!)}`,
    );
  }
  return result;
}

async function timedPipeline(
  audit: AuditService,
  inputs: readonly RecordAuditEventInput[],
  rep: number,
  flags: Flags,
  cpu: CpuMeter,
): Promise<Run> {
  const run = await runPipeline(
    audit,
    inputs,
    flags.events,
    flags['high-water'],
    flags['max-buffer-mb'] * MiB,
  );
  const used = await cpu.stop();
  if (run.dropped > 0) console.warn(`  ${run.dropped} events dropped (buffer full)`);
  return {
    ...runOf('pipeline', rep, flags.events, run.seconds, used),
    peakRssBytes: run.peakRssBytes,
    peakPending: run.peakPending,
    peakHeldBytes: run.peakHeldBytes,
    dropped: run.dropped,
  };
}

function runOf(kind: RunKind, rep: number, events: number, seconds: number, used: CpuUse): Run {
  const perEvent = (cpuSeconds: number) => Number(((cpuSeconds * 1e6) / events).toFixed(1));
  // psql's own CPU is another process's, and its backend exits with it: not measured.
  const measured = kind !== 'psql';
  return {
    kind,
    rep,
    seconds: Number(seconds.toFixed(3)),
    eventsPerSec: Math.round(events / seconds),
    nodeCpuUs: measured ? perEvent(used.nodeSeconds) : null,
    postgresCpuUs: !measured || used.postgresSeconds === null ? null : perEvent(used.postgresSeconds),
  };
}

async function expectRows(db: BenchDatabase, expected: number): Promise<void> {
  const actual = await countAuditEvents(db.sql);
  if (actual !== expected) throw new Error(`Expected ${expected} committed rows, found ${actual}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
