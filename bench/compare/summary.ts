import { median } from '../lib/stats';
import type { Flags } from './compare.bench';
import { Run } from './measure-run';
import { checkRows } from './row-check';
import { UnavailableVariant, Variant } from './variants';
import { WORKLOADS } from './workloads';

export interface Outcome {
  runs: Run[];
  migrations: string[];
  flags: Flags;
  variants: Variant[];
  unavailable: UnavailableVariant[];
  /** The Postgres server of the run: the bench's own (wal_level=logical) or BENCH_DATABASE_URL's. */
  server: { own: boolean; settings: Record<string, string> };
}

/** CPU microseconds per request by where it is spent (medians over the reps; null: not measured). */
export interface CpuStages {
  /** The variant's API process. */
  service: number | null;
  /** (e)'s worker process: in the span ((e2)) or in the drain after it ((e)). */
  worker: number | null;
  /** Postgres backends serving the requests (statements, triggers, (e)'s context message). */
  pgSessions: number | null;
  /** The audit writer's COPY of buffered events (memory, redis; (e)'s read and failure events). */
  pgWriter: number | null;
  /** The walsender decoding the slot. */
  pgWalsender: number | null;
  /** The backend of (e)'s worker (its COPY). */
  pgWalWorker: number | null;
  /** All Postgres CPU per request, span and drain. */
  pgTotal: number | null;
}

/** (e)'s worker on the backlog after the span (medians). */
export interface DrainSummary {
  eventsPerRun: number[];
  completedRuns: number;
  /** Events stored per second of wall time, and per CPU second of the worker process. */
  eventsPerSecond: number;
  eventsPerWorkerCpuSecond: number | null;
  /** Postgres CPU per event of the drain: decoding (walsender) and the worker's COPY. */
  walsenderUsPerEvent: number | null;
  walWorkerUsPerEvent: number | null;
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
  /** CPU microseconds per request of the Postgres backends in the span and of the service process (medians). */
  postgresCpuUsPerRequest: number | null;
  serviceCpuUsPerRequest: number | null;
  mainThreadCpuUsPerRequest: number | null;
  /** Every CPU per request, by stage, span and (for (e)) drain together. */
  stages: CpuStages;
  /** The same per rep, to pair with other variants' reps. */
  pgTotalPerRep: Array<number | null>;
  drain: DrainSummary | null;
  /** Median share of the machine's CPU busy during the measured load, in percent. */
  machineBusyPercent: number;
  auditRowsPerRun: number[];
  expectedRowsPerRun: number[];
  rowsOk: boolean;
  failures: number;
}

const add = (...values: Array<number | null | undefined>): number | null =>
  values.every((v) => v === null || v === undefined)
    ? null
    : values.reduce<number>((sum, v) => sum + (v ?? 0), 0);

/** Per-request CPU seconds of a run by stage (span plus drain). */
function runStages(r: Run): Record<keyof CpuStages, number | null> {
  const span = r.postgresCpu;
  const later = r.drain?.postgresCpu ?? null;
  const group = (key: string) => add(span?.[key], later?.[key]);
  return {
    service: r.serviceCpuSeconds,
    worker: add(r.workerCpuSeconds, r.drain?.workerCpuSeconds),
    pgSessions: group('sessions'),
    pgWriter: group('writer'),
    pgWalsender: group('walsender'),
    pgWalWorker: group('walWorker'),
    pgTotal: add(r.postgresCpuSeconds, ...(later ? Object.values(later) : [])),
  };
}

/** Median of the values that could be measured, rounded; null when none. */
function medianOf(values: Array<number | null>, scale = 1): number | null {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return known.length ? Math.round(median(known) * scale) : null;
}

export function summarize({ runs, variants, flags }: Outcome): Summary[] {
  const of = (workload: string, key: Variant['key']) =>
    runs.filter((r) => r.workload === workload && r.variant === key);
  const usPerRequest = (r: Run, s: number | null) => (s === null ? null : (s * 1e6) / r.requests);
  return WORKLOADS.flatMap(({ name: workload }) => {
    const baseline = of(workload, 'a');
    return variants.map((variant) => {
      const group = of(workload, variant.key);
      const checks = group.map((run) => checkRows(run, variant, flags.connections));
      const requestsPerSec = median(group.map((r) => r.requestsPerSec));
      const stage = (key: keyof CpuStages) => medianOf(group.map((r) => usPerRequest(r, runStages(r)[key])));
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
        postgresCpuUsPerRequest: medianOf(group.map((r) => usPerRequest(r, r.postgresCpuSeconds))),
        serviceCpuUsPerRequest: medianOf(group.map((r) => usPerRequest(r, r.serviceCpuSeconds))),
        mainThreadCpuUsPerRequest: medianOf(group.map((r) => usPerRequest(r, r.mainThreadCpuSeconds))),
        stages: {
          service: stage('service'),
          worker: stage('worker'),
          pgSessions: stage('pgSessions'),
          pgWriter: stage('pgWriter'),
          pgWalsender: stage('pgWalsender'),
          pgWalWorker: stage('pgWalWorker'),
          pgTotal: stage('pgTotal'),
        },
        pgTotalPerRep: group.map((r) => {
          const us = usPerRequest(r, runStages(r).pgTotal);
          return us === null ? null : Math.round(us);
        }),
        drain: drainSummary(group),
        machineBusyPercent: Math.round(100 * median(group.map((r) => r.machineBusy))),
        auditRowsPerRun: checks.map((c) => c.recorded),
        expectedRowsPerRun: checks.map((c) => c.expected),
        rowsOk: checks.every((c) => c.ok),
        failures: group.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
      };
    });
  });
}

function drainSummary(group: Run[]): DrainSummary | null {
  const drains = group.flatMap((r) => (r.drain ? [r.drain] : []));
  if (!drains.length) return null;
  const perEvent = (key: string) =>
    medianOf(
      drains.map((d) => (d.postgresCpu && d.events ? ((d.postgresCpu[key] ?? 0) * 1e6) / d.events : null)),
    );
  return {
    eventsPerRun: drains.map((d) => d.events),
    completedRuns: drains.filter((d) => d.completed).length,
    eventsPerSecond: Math.round(median(drains.map((d) => d.events / Math.max(d.seconds, 0.001)))),
    eventsPerWorkerCpuSecond: medianOf(
      drains.map((d) => (d.workerCpuSeconds ? d.events / d.workerCpuSeconds : null)),
    ),
    walsenderUsPerEvent: perEvent('walsender'),
    walWorkerUsPerEvent: perEvent('walWorker'),
  };
}

const round = (value: number) => Number(value.toFixed(3));
