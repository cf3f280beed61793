import { cpus } from 'node:os';
import { barChartSvg } from '../lib/chart';
import { Outcome, Summary } from './summary';
import { Variant } from './variants';
import { WORKLOADS } from './workloads';

/**
 * The baseline grey, the trigger orange, this project blue (its capture stages lighter blues, its redis mode
 * green, its wal mode purple: worker deferred dark, alongside light).
 */
const COLORS: Record<Variant['key'], string> = {
  a: '#9aa0a6',
  b: '#e8710a',
  c0: '#d2e3fc',
  c1: '#aecbfa',
  c2: '#669df6',
  c: '#1a73e8',
  d: '#188038',
  e: '#a142f4',
  e2: '#d7aefb',
};

/** Throughput and p99 of every variant on every workload, as SVG; the subtitle says how it was produced. */
export function compareChart(summaries: Summary[], { flags, variants, unavailable }: Outcome): string {
  const workloads = WORKLOADS.map((w) => w.name);
  const series = (value: (s: Summary) => number) =>
    variants.map((v) => ({
      name: v.label,
      color: COLORS[v.key],
      values: workloads.map((w) => {
        const s = summaries.find((x) => x.workload === w && x.variant === v.key);
        return s ? value(s) : null;
      }),
    }));
  const args = process.argv.slice(2).join(' ');
  const about = [
    `npm run bench:compare${args ? ` -- ${args}` : ''}`,
    `${cpus().length} CPUs`,
    new Date().toISOString().slice(0, 10),
    `${flags.connections} connections, ${flags.duration} s x ${flags.reps} reps (medians)`,
    ...unavailable.map((v) => `${v.label}: not available`),
  ];
  return barChartSvg({
    title: 'Audit approaches on the accounts API',
    subtitle: about.join(' · '),
    panels: [
      {
        title: 'Throughput (req/s, higher is better)',
        categories: workloads,
        series: series((s) => s.requestsPerSec),
      },
      { title: 'p99 latency (ms, lower is better)', categories: workloads, series: series((s) => s.p99Ms) },
    ],
  });
}
