import { resultStamp, writeBenchFile, writeResults } from '../lib/results';
import { formatRatio, printTable } from '../lib/table';
import { compareChart } from './compare-chart';
import { Outcome, summarize } from './summary';
import { targetsOf } from './targets';
import { WORKLOADS } from './workloads';

/**
 * Prints the comparison and writes bench/results/<name>-<stamp>.json and .svg, plus a copy of the chart at a
 * stable path for the README (bench/charts/compare.svg; quick, `--stages` and `--pool` runs write under their own names).
 */
export function report(outcome: Outcome): void {
  const summaries = summarize(outcome);
  const targets = targetsOf(summaries, outcome.runs);
  const { flags } = outcome;
  printTable(
    `Audit approaches compared: ${flags.connections} connections, ${flags.duration} s (+${flags.warmup} s ` +
      `warm-up) x ${flags.reps} reps, ${flags.accounts} accounts (medians)`,
    [
      'workload',
      'variant',
      'req/s',
      'vs (a)',
      'per rep',
      'p50 ms',
      'p99 ms',
      'PG us/req',
      'app us/req',
      'main thread us/req',
      'busy %',
      'audit rows / expected',
      'rows ok',
      'failed',
    ],
    summaries.map((s) => [
      s.workload,
      s.label,
      s.requestsPerSec,
      formatRatio(s.ratio),
      s.perRepRatios.map((r) => r.toFixed(2)).join(' '),
      s.p50Ms,
      s.p99Ms,
      s.postgresCpuUsPerRequest ?? 'n/a',
      s.serviceCpuUsPerRequest ?? 'n/a',
      s.mainThreadCpuUsPerRequest ?? 'n/a',
      s.machineBusyPercent,
      s.auditRowsPerRun.map((rows, i) => `${rows}/${s.expectedRowsPerRun[i]}`).join(' '),
      s.rowsOk ? 'yes' : 'NO',
      s.failures,
    ]),
  );
  for (const v of outcome.unavailable) console.log(`${v.label}: not available (${v.reason})`);
  const na = (v: number | null) => v ?? 'n/a';
  printTable(
    'Where the CPU goes: microseconds per request (medians; (e): span + the drain after it)',
    [
      'workload',
      'variant',
      'API process',
      'worker',
      'PG sessions',
      'PG writer COPY',
      'PG walsender',
      'PG worker COPY',
      'PG total',
    ],
    summaries.map((s) => [
      s.workload,
      s.label,
      na(s.stages.service),
      na(s.stages.worker),
      na(s.stages.pgSessions),
      na(s.stages.pgWriter),
      na(s.stages.pgWalsender),
      na(s.stages.pgWalWorker),
      na(s.stages.pgTotal),
    ]),
  );
  const drains = summaries.filter((s) => s.drain);
  if (drains.length)
    printTable(
      "(e)'s worker on the backlog after the span (medians)",
      [
        'workload',
        'events per run',
        'completed',
        'events/s',
        'events per worker CPU s',
        'PG decode us/event',
        'PG COPY us/event',
      ],
      drains.map((s) => [
        s.workload,
        s.drain!.eventsPerRun.join(' '),
        `${s.drain!.completedRuns}/${s.drain!.eventsPerRun.length}`,
        s.drain!.eventsPerSecond,
        na(s.drain!.eventsPerWorkerCpuSecond),
        na(s.drain!.walsenderUsPerEvent),
        na(s.drain!.walWorkerUsPerEvent),
      ]),
    );
  printTable(
    'Targets',
    ['check', 'value', 'per rep', 'target', 'result', 'spread < gap'],
    targets.map((t) => [
      t.check,
      t.value,
      t.perRep,
      t.target,
      t.pass ? 'PASS' : 'FAIL',
      t.clear ? 'yes' : 'no',
    ]),
  );

  const name = `compare${flags.wal ? '' : '-nowal'}${flags.stages ? '-stages' : ''}${flags.pool ? `-pool${flags.pool}` : ''}${flags.quick ? '-quick' : ''}`;
  const stamp = resultStamp();
  const svg = compareChart(summaries, outcome);
  const file = writeResults(
    name,
    {
      params: flags,
      server: outcome.server,
      migrations: outcome.migrations,
      unavailable: outcome.unavailable,
      workloads: WORKLOADS,
      summary: summaries,
      targets,
      runs: outcome.runs,
    },
    stamp,
  );
  const chart = writeBenchFile(`bench/results/${name}-${stamp}.svg`, svg);
  const stable = writeBenchFile(`bench/charts/${name}.svg`, svg);
  console.log(`\nResults: ${file}\nChart: ${chart} (copy: ${stable})`);
}
