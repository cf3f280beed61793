import { median } from '../lib/stats';
import { Cell, formatMiB, printTable } from '../lib/table';
import { Explained, PlanSummary } from './explain';
import { ExportRun } from './export-rate';
import { LoadResult } from './load';
import { QueryResult } from './measure';
import { VersionedResource } from './versioned';

export interface Report {
  phases: Array<{ name: string; seconds: number; detail: string }>;
  totalSeconds: number;
  load: LoadResult;
  partitions: Array<{
    name: string;
    rows: number;
    heapBytes: number;
    indexBytes: number;
    searchIndexBytes: number;
  }>;
  queries: QueryResult[];
  export: {
    organization: string;
    organizationEvents: number;
    days: number;
    runs: ExportRun[];
    explain: Explained;
  };
  largeRows: number;
  /** The record with a long history behind the as-of queries. */
  asOfRecord?: VersionedResource;
}

const short = (name: string) => name.replace(/^audit_events_/, '').replace(/^audit_stats_/, 'stats_');

function indexCell(summary: PlanSummary): string {
  return summary.indexes.length ? summary.indexes.map(short).join(' + ') : 'none';
}

function partitionsCell(summary: PlanSummary): string {
  const p = summary.partitions;
  return p ? `${p.executed} run / ${p.inPlan} planned / ${p.total}` : 'n/a (view)';
}

function flagsCell(summary: PlanSummary): string {
  if (summary.flagged.length === 0) return '-';
  return summary.seqScans
    .filter((s) => summary.flagged.some((f) => f.includes(`${s.relation} `)))
    .map((s) => `${short(s.relation)} (${(100 * s.kept).toFixed(0)}% kept)`)
    .join(', ');
}

function vectorsCell(summary: PlanSummary): string {
  const total = Object.values(summary.vectorsComputed).reduce((a, b) => a + b, 0);
  return total > 0 ? `vector computed on ${total} rows` : '';
}

export function printReport(report: Report, allPlans: boolean): void {
  printTable(
    `Phases (total ${report.totalSeconds.toFixed(0)} s)`,
    ['phase', 'seconds', 'detail'],
    report.phases.map((p) => [p.name, Number(p.seconds.toFixed(1)), p.detail || '-']),
  );
  printTable(
    'Partitions after load',
    ['partition', 'rows', 'heap', 'indexes', 'of which search'],
    report.partitions
      .filter((p) => p.rows > 0)
      .map((p) => [
        p.name,
        p.rows,
        formatMiB(p.heapBytes),
        formatMiB(p.indexBytes),
        formatMiB(p.searchIndexBytes),
      ]),
  );

  const rows: Cell[][] = report.queries.map((q) => {
    const summary = 'summary' in q.explain ? q.explain.summary : null;
    return [
      q.name,
      Number(q.p50Ms.toFixed(2)),
      Number(q.p95Ms.toFixed(2)),
      q.medianRows,
      summary ? indexCell(summary) : `EXPLAIN failed`,
      summary ? partitionsCell(summary) : '-',
      summary ? flagsCell(summary) : '-',
      [q.timeouts ? `${q.timeouts} timed out` : '', summary ? vectorsCell(summary) : '']
        .filter(Boolean)
        .join('; ') || '-',
    ];
  });
  const exp = report.export;
  const rates = exp.runs.map((r) => r.rowsPerSec);
  rows.push([
    `export-90d-largest-org`,
    Number((median(exp.runs.map((r) => r.seconds)) * 1000).toFixed(0)),
    Number((Math.max(...exp.runs.map((r) => r.seconds)) * 1000).toFixed(0)),
    median(exp.runs.map((r) => r.rows)),
    indexCell(exp.explain.summary),
    partitionsCell(exp.explain.summary),
    flagsCell(exp.explain.summary),
    `${Math.round(median(rates))} rows/s`,
  ]);
  printTable(
    `Admin queries (p50/p95 of ${report.queries[0]?.reps.length ?? 0} reps; rows = median rows answered, page limit 50+1; ` +
      `plan = EXPLAIN ANALYZE of the slowest rep; Seq Scan flagged on relations >= ${report.largeRows} rows)`,
    ['query', 'p50 ms', 'p95 ms', 'rows', 'index used', 'partitions', 'seq scan', 'note'],
    rows,
  );
  console.log(
    `Export: organization ${exp.organization} (~${exp.organizationEvents} events in total), last ${exp.days} days, ` +
      `${exp.runs.map((r) => `${Math.round(r.rowsPerSec)} rows/s (${formatMiB(r.bytes / r.seconds)}/s NDJSON)`).join(', ')}`,
  );

  const record = report.asOfRecord;
  if (record) {
    console.log(
      `As of: ${record.resourceType} ${record.resourceId} of ${record.organizationId}, ${record.versions} versions ` +
        `and ${record.reads} reads from ${record.from.toISOString()} to ${record.to.toISOString()}; instants drawn ` +
        `uniformly in that span`,
    );
  }

  for (const q of report.queries) {
    if (!('summary' in q.explain)) {
      console.log(`\n${q.name}: EXPLAIN failed: ${q.explain.error}`);
      continue;
    }
    const { summary } = q.explain;
    if (!allPlans && summary.flagged.length === 0) continue;
    const rep = q.reps[q.explain.rep];
    console.log(
      `\n${q.name} (slowest rep: ${rep.ms.toFixed(1)} ms, org ${rep.org}${rep.orgEvents !== null ? ` ~${rep.orgEvents} events` : ''}; ` +
        `EXPLAIN: ${summary.executionMs.toFixed(1)} ms, ${summary.rowsRemovedByFilter} rows removed by filter, ` +
        `buffers hit ${summary.sharedHitBlocks} read ${summary.sharedReadBlocks}${summary.jit ? ', JIT' : ''})`,
    );
    for (const line of q.explain.text) console.log(`  ${line}`);
  }
  if (allPlans || exp.explain.summary.flagged.length > 0) {
    console.log(`\nexport (EXPLAIN: ${exp.explain.summary.executionMs.toFixed(1)} ms)`);
    for (const line of exp.explain.text) console.log(`  ${line}`);
  }
}
