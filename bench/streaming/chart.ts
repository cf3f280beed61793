import { barChartSvg, BarPanel } from '../lib/chart';
import { formatNumber } from '../lib/table';

/** What the chart shows of a run (the results file holds the same fields). */
export interface StreamingChartInput {
  quick: boolean;
  stamp: string;
  reps: number;
  seededEvents: number;
  summary: Array<{ label: string; eventsPerSec: number }>;
  lag: { rate: number; latencyMs: Record<string, { p50: number; p95: number; p99: number }> } | null;
}

/** Events/s per destination kind (medians) and, beside it, the latency percentiles under the steady load. */
export function streamingChartSvg(input: StreamingChartInput): string {
  const panels: BarPanel[] = [];
  if (input.summary.length)
    panels.push({
      title: `events/s delivered, backfill of ${formatNumber(input.seededEvents)} (median of ${input.reps})`,
      categories: input.summary.map((s) => s.label),
      series: [{ name: 'events/s', values: input.summary.map((s) => Math.round(s.eventsPerSec)) }],
    });
  const lag = input.lag;
  if (lag)
    panels.push({
      title: `latency at ${formatNumber(lag.rate)} events/s, ms`,
      categories: Object.keys(lag.latencyMs),
      series: (['p50', 'p95', 'p99'] as const).map((p) => ({
        name: p,
        values: Object.values(lag.latencyMs).map((s) => Math.round(s[p])),
      })),
    });
  return barChartSvg({
    title: 'Streaming the audit trail',
    subtitle: `npm run bench:streaming${input.quick ? ' -- --quick' : ''} · ${input.stamp} · 2 shared cores`,
    panels,
    // Wide enough for every kind's label under its bar (echarts skips labels that would overlap).
    panelWidth: input.summary.length ? 860 : 520,
  });
}
