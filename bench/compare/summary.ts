import { median } from '../lib/stats';
import { formatRatio } from '../lib/table';
import type { Flags } from './compare.bench';
import { Run } from './measure-run';
import { checkRows } from './row-check';
import { UnavailableVariant, Variant } from './variants';
import { WORKLOADS } from './workloads';

/** (c) against (a) on the update-heavy mix; (c) must also beat (b) on every workload. */
const TARGET = { workload: 'update-heavy', ratio: 0.85 };

export interface Outcome {
  runs: Run[];
  migrations: string[];
  flags: Flags;
  variants: Variant[];
  unavailable: UnavailableVariant[];
}

export interface Summary {
  workload: string;
  variant: Variant['key'];
  label: string;
  requestsPerSec: number;
  /** Median req/s over (a)'s, and the same ratio within each rep (adjacent runs: shows the noise). */
  ratio: number;
  perRepRatios: number[];
  p50Ms: number;
  p99Ms: number;
  /** CPU microseconds per request of the Postgres backends and of the service process (medians). */
  postgresCpuUsPerRequest: number | null;
  serviceCpuUsPerRequest: number | null;
  mainThreadCpuUsPerRequest: number | null;
  /** Median share of the machine's CPU busy during the measured load, in percent. */
  machineBusyPercent: number;
  auditRowsPerRun: number[];
  expectedRowsPerRun: number[];
  rowsOk: boolean;
  failures: number;
}

export function summarize({ runs, variants, flags }: Outcome): Summary[] {
  const of = (workload: string, key: Variant['key']) =>
    runs.filter((r) => r.workload === workload && r.variant === key);
  /** Median CPU microseconds per request over the runs where the CPU time could be read. */
  const perRequest = (group: Run[], seconds: (r: Run) => number | null) => {
    const values = group.flatMap((r) => {
      const s = seconds(r);
      return s === null ? [] : [(s * 1e6) / r.requests];
    });
    return values.length ? Math.round(median(values)) : null;
  };
  return WORKLOADS.flatMap(({ name: workload }) => {
    const baseline = of(workload, 'a');
    return variants.map((variant) => {
      const group = of(workload, variant.key);
      const checks = group.map((run) => checkRows(run, variant, flags.connections));
      const requestsPerSec = median(group.map((r) => r.requestsPerSec));
      return {
        workload,
        variant: variant.key,
        label: variant.label,
        requestsPerSec,
        ratio: round(requestsPerSec / median(baseline.map((r) => r.requestsPerSec))),
        perRepRatios: group.map((r) =>
          round(r.requestsPerSec / baseline.find((b) => b.rep === r.rep)!.requestsPerSec),
        ),
        p50Ms: median(group.map((r) => r.p50Ms)),
        p99Ms: median(group.map((r) => r.p99Ms)),
        postgresCpuUsPerRequest: perRequest(group, (r) => r.postgresCpuSeconds),
        serviceCpuUsPerRequest: perRequest(group, (r) => r.serviceCpuSeconds),
        mainThreadCpuUsPerRequest: perRequest(group, (r) => r.mainThreadCpuSeconds),
        machineBusyPercent: Math.round(100 * median(group.map((r) => r.machineBusy))),
        auditRowsPerRun: checks.map((c) => c.recorded),
        expectedRowsPerRun: checks.map((c) => c.expected),
        rowsOk: checks.every((c) => c.ok),
        failures: group.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
      };
    });
  });
}

export interface Target {
  check: string;
  value: string;
  target: string;
  pass: boolean;
}

export function targetsOf(summaries: Summary[]): Target[] {
  const find = (workload: string, key: Variant['key']) =>
    summaries.find((s) => s.workload === workload && s.variant === key);
  const targets: Target[] = [];
  const c = find(TARGET.workload, 'c');
  if (c)
    targets.push({
      check: `${TARGET.workload}: (c) / (a) req/s`,
      value: formatRatio(c.ratio),
      target: `>= ${formatRatio(TARGET.ratio)}`,
      pass: c.ratio >= TARGET.ratio,
    });
  for (const { name } of WORKLOADS) {
    const [b, own] = [find(name, 'b'), find(name, 'c')];
    if (b && own)
      targets.push({
        check: `${name}: (c) / (b) req/s`,
        value: formatRatio(own.requestsPerSec / b.requestsPerSec),
        target: '> 1.00x',
        pass: own.requestsPerSec > b.requestsPerSec,
      });
  }
  targets.push({
    check: 'audit rows match the requests (every run)',
    value: summaries.every((s) => s.rowsOk) ? 'yes' : 'no',
    target: 'yes',
    pass: summaries.every((s) => s.rowsOk),
  });
  return targets;
}

const round = (value: number) => Number(value.toFixed(3));
