import { Cell, formatNumber, formatRatio } from './table';

/** One line of the `npm run bench` summary: a headline figure of one benchmark's results file. */
export type Headline = [measure: string, value: Cell, target: string, result: string];

const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

// The parts of each results file the summary reads (see the benchmark that writes it for the full shape).
interface IngestResults {
  configs: Array<{
    medianPipelineEventsPerSec: number;
    medianRawEventsPerSec: number;
    ratio: number;
    peakRssBytes: number;
  }>;
}
interface OverheadResults {
  ratios: Array<{ scenario: string; variant?: string; ratio: number; target: number }>;
}
interface QueryResults {
  load: { eventsPerSec: number; events: number };
  queries: Array<{ name: string; p95Ms: number }>;
  export: { runs: Array<{ rowsPerSec: number }> };
}
interface CompareResults {
  summary: Array<{ workload: string; label: string; requestsPerSec: number; ratio: number; p99Ms: number }>;
  targets: Array<{ check: string; value: string; target: string; pass: boolean }>;
  unavailable: Array<{ label: string }>;
}

interface ArchiveResults {
  flags: { compression?: string; streams?: number };
  archive: { eventsPerSec: number; rows: number };
  codecRatiosVsHeapToast: Record<string, number>;
  maintenance: { partitions: number; medianMs: number };
}

export function archiveHeadlines(results: ArchiveResults): Headline[] {
  // Targets as in archive.bench.ts (TARGETS).
  const compression = results.flags.compression ?? 'gzip';
  const streams = results.flags.streams ?? 1;
  return [
    [
      `archive export of ${formatNumber(results.archive.rows)} events (${compression}, ${streams} stream${streams === 1 ? '' : 's'}), events/s`,
      results.archive.eventsPerSec,
      '>= 100,000',
      verdict(results.archive.eventsPerSec >= 100_000),
    ],
    ...Object.entries(results.codecRatiosVsHeapToast).map(([codec, ratio]): Headline => [
      `${codec} archive vs heap + TOAST`,
      formatRatio(ratio),
      '>= 5.00x',
      verdict(ratio >= 5),
    ]),
    [
      `maintenance, ${results.maintenance.partitions} partitions, nothing to do, ms`,
      results.maintenance.medianMs,
      '< 1,000',
      verdict(results.maintenance.medianMs < 1000),
    ],
  ];
}

export function ingestHeadlines({ configs: [config] }: IngestResults): Headline[] {
  return [
    ['record() -> committed, events/s', config.medianPipelineEventsPerSec, '-', '-'],
    // Targets as in ingest/report.ts (TARGET_RATIO, TARGET_RSS_BYTES).
    [
      'pipeline / raw COPY (the faster of Node stream and psql \\copy)',
      formatRatio(config.ratio),
      '>= 1.10x',
      verdict(config.ratio >= 1.1),
    ],
    [
      'ingest peak RSS, MiB',
      Math.round(config.peakRssBytes / 1024 / 1024),
      '<= 256',
      verdict(config.peakRssBytes <= 256 * 1024 * 1024),
    ],
  ];
}

export function overheadHeadlines({ ratios }: OverheadResults): Headline[] {
  return ratios.map((r) => [
    `${r.scenario} ${r.variant ?? 'audited'} / unaudited req/s`,
    formatRatio(r.ratio),
    `>= ${formatRatio(r.target)}`,
    verdict(r.ratio >= r.target),
  ]);
}

export function queryHeadlines(results: QueryResults): Headline[] {
  const slowest = results.queries.reduce((a, b) => (b.p95Ms > a.p95Ms ? b : a));
  const exportRate = Math.max(...results.export.runs.map((r) => r.rowsPerSec));
  return [
    [`load of ${formatNumber(results.load.events)} events, events/s`, results.load.eventsPerSec, '-', '-'],
    [`slowest of ${results.queries.length} queries (p95 ms): ${slowest.name}`, slowest.p95Ms, '-', '-'],
    ['export, rows/s (best run)', exportRate, '-', '-'],
  ];
}

export function compareHeadlines(results: CompareResults): Headline[] {
  return [
    ...results.summary.map((s): Headline => [
      `${s.workload} ${s.label}: req/s (p99 ${s.p99Ms} ms)`,
      s.requestsPerSec,
      formatRatio(s.ratio),
      '-',
    ]),
    ...results.unavailable.map((v): Headline => [v.label, 'not available', '-', '-']),
    ...results.targets.map((t): Headline => [t.check, t.value, t.target, verdict(t.pass)]),
  ];
}
