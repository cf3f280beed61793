import { cpus } from 'node:os';
import { writeResults } from '../lib/results';
import { median, percentile } from '../lib/stats';
import { Cell, formatMiB, formatNumber, formatRatio, printTable } from '../lib/table';
import type { Flags } from './ingest.bench';
import type { RawRows } from './raw-copy';
import type { StageCosts } from './stages';

const TARGET_RATIO = 1.1;
const TARGET_RSS_BYTES = 256 * 1024 * 1024;

export interface WriterConfig {
  batchSize: number;
  flushConcurrency: number;
}

/** `raw`: one COPY stream of the file from Node; `psql`: `psql -c "\copy ..."`; `pipeline`: record() -> rows. */
export type RunKind = 'raw' | 'psql' | 'pipeline';

export interface Run {
  kind: RunKind;
  rep: number;
  seconds: number;
  eventsPerSec: number;
  /** CPU microseconds per event: this process (record, encode, stream) and the Postgres backends (null: psql). */
  nodeCpuUs: number | null;
  postgresCpuUs: number | null;
  peakRssBytes?: number;
  peakPending?: number;
  peakHeldBytes?: number;
  dropped?: number;
}

export interface ConfigResult {
  config: WriterConfig;
  /** RSS after the app started and warmed up, before the measured runs. */
  baselineRssBytes: number;
  runs: Run[];
  /** Node CPU per event of record()'s stages, measured apart after the runs. */
  stages?: StageCosts;
}

/** Pipeline / raw of each rep (the runs of one rep ran next to each other): median, spread, quartiles. */
export interface RatioSummary {
  against: Exclude<RunKind, 'pipeline'>;
  perRep: number[];
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

export const label = (c: WriterConfig) => `batch ${c.batchSize}, concurrency ${c.flushConcurrency}`;
const runsOf = (r: ConfigResult, kind: RunKind) => r.runs.filter((run) => run.kind === kind);
const medianOf = (r: ConfigResult, kind: RunKind, field: (run: Run) => number | null | undefined) =>
  median(runsOf(r, kind).map((run) => field(run) ?? NaN));
const eventsPerSec = (r: ConfigResult, kind: RunKind) => medianOf(r, kind, (run) => run.eventsPerSec);
const peakOf = (r: ConfigResult, field: (run: Run) => number | undefined) =>
  Math.max(...runsOf(r, 'pipeline').map((run) => field(run) ?? 0));
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

export function ratios(r: ConfigResult, against: RatioSummary['against']): RatioSummary | null {
  const perRep: number[] = [];
  for (const pipeline of runsOf(r, 'pipeline')) {
    const base = r.runs.find((run) => run.kind === against && run.rep === pipeline.rep);
    if (base) perRep.push(Number((pipeline.eventsPerSec / base.eventsPerSec).toFixed(3)));
  }
  if (perRep.length === 0) return null;
  return {
    against,
    perRep,
    median: median(perRep),
    min: Math.min(...perRep),
    max: Math.max(...perRep),
    q1: percentile(perRep, 25),
    q3: percentile(perRep, 75),
  };
}

/** The ratio against the faster of the two raw clients (the stricter comparison). */
function headline(r: ConfigResult): RatioSummary {
  const candidates = [ratios(r, 'raw'), ratios(r, 'psql')].filter((x): x is RatioSummary => x !== null);
  return candidates.reduce((a, b) => (b.median < a.median ? b : a));
}

const describe = (s: RatioSummary) =>
  `${formatRatio(s.median)} (reps ${formatRatio(s.min)}-${formatRatio(s.max)}, IQR ${formatRatio(s.q1)}-${formatRatio(s.q3)})`;

export function report(
  results: ConfigResult[],
  raw: RawRows,
  flags: Flags,
  migrations: string[],
  inputPool: number,
): void {
  const avgBytes = raw.bytes / raw.rows;
  const title = `Ingest: ${formatNumber(flags.events)} events x ${flags.reps} reps, ~${avgBytes.toFixed(0)} B/event stored`;
  if (flags.sweep) printSweep(title, results);
  else printSingle(title, results[0], avgBytes);
  const file = writeResults(flags.sweep ? 'ingest-sweep' : flags.quick ? 'ingest-quick' : 'ingest', {
    params: {
      events: flags.events,
      reps: flags.reps,
      highWater: flags['high-water'],
      maxBufferBytes: flags['max-buffer-mb'] * 1024 * 1024,
      inputPool,
      // V8 flags of this process (e.g. --max-old-space-size): they decide how far the heap grows.
      nodeFlags: process.execArgv,
    },
    migrations,
    eventSize: { averageBytes: Math.round(avgBytes), rows: raw.rows, totalBytes: raw.bytes },
    configs: results.map((r) => ({
      config: r.config,
      medianRawEventsPerSec: Math.round(eventsPerSec(r, 'raw')),
      medianPsqlEventsPerSec: runsOf(r, 'psql').length > 0 ? Math.round(eventsPerSec(r, 'psql')) : null,
      medianPipelineEventsPerSec: Math.round(eventsPerSec(r, 'pipeline')),
      // The headline: against the faster raw client (median of per-rep ratios); read by bench/lib/headlines.ts.
      ratio: Number(headline(r).median.toFixed(3)),
      ratioAgainst: headline(r).against,
      ratioToRaw: ratios(r, 'raw'),
      ratioToPsql: ratios(r, 'psql'),
      peakRssBytes: peakOf(r, (run) => run.peakRssBytes),
      peakHeldBytes: peakOf(r, (run) => run.peakHeldBytes),
      baselineRssBytes: r.baselineRssBytes,
      stages: r.stages,
      cpuCeilingEventsPerSec: cpuCeiling(r),
      runs: r.runs,
    })),
  });
  console.log(`\nResults: ${file}`);
}

/**
 * The most events/s this machine's cores could give the pipeline if nothing else ran and Node and Postgres
 * overlapped perfectly: cores / (Node + Postgres CPU per event), medians of the pipeline runs.
 */
function cpuCeiling(r: ConfigResult): number {
  const cpu =
    medianOf(r, 'pipeline', (run) => run.nodeCpuUs) + medianOf(r, 'pipeline', (run) => run.postgresCpuUs);
  return Math.round((cpus().length * 1e6) / cpu);
}

function printStages(result: ConfigResult): void {
  const stages = result.stages;
  if (!stages) return;
  const node = medianOf(result, 'pipeline', (run) => run.nodeCpuUs);
  const pg = medianOf(result, 'pipeline', (run) => run.postgresCpuUs);
  const inRecord = stages.buildUs + stages.protectUs + stages.encodeUs;
  printTable(
    'Where the CPU of a pipeline event goes (us per event, medians)',
    ['stage', 'us/event'],
    [
      ['record(): build (redaction, diff, serialization)', stages.buildUs],
      ['record(): personal data encryption', stages.protectUs],
      ['record(): COPY line (jsonb text, escaping, event hash)', stages.encodeUs],
      [
        'writer: COPY stream, seals, GC and the rest (run total - stages)',
        Number((node - inRecord).toFixed(1)),
      ],
      ['Node, whole run', node],
      ['Postgres backends, whole run', pg],
      [`ceiling on ${cpus().length} cores, perfect overlap (ev/s)`, cpuCeiling(result)],
    ],
  );
}

function printSingle(title: string, result: ConfigResult, avgBytes: number): void {
  const row = (name: string, kind: RunKind): Cell[] => {
    const values = runsOf(result, kind).map((run) => run.eventsPerSec);
    const cpu = (field: (run: Run) => number | null) => {
      const value = medianOf(result, kind, field);
      return Number.isNaN(value) ? '-' : value;
    };
    return [
      name,
      median(values),
      Math.min(...values),
      Math.max(...values),
      (median(values) * avgBytes) / 1024 / 1024,
      cpu((run) => run.nodeCpuUs),
      cpu((run) => run.postgresCpuUs),
    ];
  };
  const rows = [row('raw COPY, 1 stream from Node', 'raw')];
  if (runsOf(result, 'psql').length > 0) rows.push(row('psql \\copy, 1 stream', 'psql'));
  rows.push(row(`record() -> committed (${label(result.config)})`, 'pipeline'));
  printTable(
    title,
    ['variant', 'median ev/s', 'min', 'max', 'MiB/s', 'client CPU us/ev', 'PG CPU us/ev'],
    rows,
  );
  const targetRows: Cell[][] = [];
  for (const against of ['raw', 'psql'] as const) {
    const s = ratios(result, against);
    if (s)
      targetRows.push([
        `pipeline / ${against === 'raw' ? 'raw Node COPY' : 'psql \\copy'}, per rep`,
        describe(s),
        '-',
        '-',
      ]);
  }
  const best = headline(result);
  targetRows.push(
    [
      'pipeline / the faster raw client',
      formatRatio(best.median),
      `>= ${formatRatio(TARGET_RATIO)}`,
      verdict(best.median >= TARGET_RATIO),
    ],
    [
      'peak RSS during pipeline runs',
      formatMiB(peakOf(result, (run) => run.peakRssBytes)),
      `<= ${formatMiB(TARGET_RSS_BYTES)}`,
      verdict(peakOf(result, (run) => run.peakRssBytes) <= TARGET_RSS_BYTES),
    ],
    ['RSS before the runs (app warmed up)', formatMiB(result.baselineRssBytes), '-', '-'],
    ['peak events pending', formatNumber(peakOf(result, (run) => run.peakPending)), '-', '-'],
    ['peak bytes held by the writer', formatMiB(peakOf(result, (run) => run.peakHeldBytes)), '-', '-'],
  );
  printTable('Targets', ['metric', 'value', 'target', 'result'], targetRows);
  printStages(result);
}

function printSweep(title: string, results: ConfigResult[]): void {
  printTable(
    `${title} (sweep)`,
    [
      'concurrency',
      'batch',
      'pipeline ev/s',
      'raw ev/s',
      'ratio (reps)',
      'node us/ev',
      'PG us/ev',
      'peak RSS',
    ],
    results.map((r) => {
      const s = headline(r);
      return [
        r.config.flushConcurrency,
        r.config.batchSize,
        eventsPerSec(r, 'pipeline'),
        eventsPerSec(r, s.against),
        `${formatRatio(s.median)} (${formatRatio(s.min)}-${formatRatio(s.max)})`,
        medianOf(r, 'pipeline', (run) => run.nodeCpuUs),
        medianOf(r, 'pipeline', (run) => run.postgresCpuUs),
        formatMiB(peakOf(r, (run) => run.peakRssBytes)),
      ];
    }),
  );
  const best = results.reduce((a, b) => (headline(b).median > headline(a).median ? b : a));
  console.log(`\nBest ratio: ${label(best.config)} (${formatRatio(headline(best).median)})`);
}
