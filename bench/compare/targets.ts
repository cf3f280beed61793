import { formatRatio } from '../lib/table';
import { Run } from './measure-run';
import { Summary } from './summary';
import { Variant } from './variants';
import { WORKLOADS } from './workloads';

/** The targets (ratios to (a) in the same run). */
const UPDATE_HEAVY = 'update-heavy';
const WAL_REQUEST_PATH = 0.97;
const MEMORY_MODE = 0.9;

export interface Target {
  check: string;
  value: string;
  /** The same quantity in each rep (paired runs of the same rep), min..max: the noise the verdict rests on. */
  perRep: string;
  target: string;
  pass: boolean;
  /** Every rep on the same side of the target as the median: the spread is smaller than the gap. */
  clear: boolean;
}

type Key = Variant['key'];

export function targetsOf(summaries: Summary[], runs: Run[]): Target[] {
  const find = (workload: string, key: Key) =>
    summaries.find((s) => s.workload === workload && s.variant === key);
  /** x / y within each rep (both ran in it). */
  const paired = (workload: string, x: Key, y: Key, value: (r: Run) => number | null): number[] => {
    const of = (key: Key) => runs.filter((r) => r.workload === workload && r.variant === key);
    return of(x).flatMap((rx) => {
      const ry = of(y).find((r) => r.rep === rx.rep);
      const [vx, vy] = [value(rx), ry ? value(ry) : null];
      return vx !== null && vy !== null && vy > 0 ? [vx / vy] : [];
    });
  };
  const targets: Target[] = [];
  const ratioTarget = (check: string, median: number, perRep: number[], min: number, strict = false) => {
    const passes = (v: number) => (strict ? v > min : v >= min);
    targets.push({
      check,
      value: formatRatio(median),
      perRep: spread(perRep),
      target: `${strict ? '>' : '>='} ${formatRatio(min)}`,
      pass: passes(median),
      clear: perRep.length > 0 && perRep.every((v) => passes(v) === passes(median)),
    });
  };
  const rps = (r: Run) => r.requestsPerSec;

  const e = find(UPDATE_HEAVY, 'e');
  if (e)
    ratioTarget(
      `${UPDATE_HEAVY}: (e) worker deferred / (a) req/s`,
      e.ratio,
      e.perRepRatios,
      WAL_REQUEST_PATH,
    );
  for (const { name } of WORKLOADS) {
    const [b, own] = [find(name, 'b'), find(name, 'e')];
    if (!b || !own || own.stages.pgTotal === null || b.stages.pgTotal === null) continue;
    // Lower is better: (b) / (e) >= 1.
    const perRep = paired(name, 'b', 'e', (r) => pgTotal(r));
    targets.push({
      check: `${name}: Postgres CPU/request, (e) capture + decoding + COPY <= (b)`,
      value: `${own.stages.pgTotal} vs ${b.stages.pgTotal} us`,
      perRep: `(b)/(e) ${spread(perRep)}`,
      target: '(e) <= (b)',
      pass: own.stages.pgTotal <= b.stages.pgTotal,
      clear: perRep.length > 0 && perRep.every((v) => v >= 1 === own.stages.pgTotal! <= b.stages.pgTotal!),
    });
  }
  for (const { name } of WORKLOADS) {
    const [b, own] = [find(name, 'b'), find(name, 'e2')];
    if (b && own)
      ratioTarget(
        `${name}: (e2) worker alongside / (b) req/s`,
        own.requestsPerSec / b.requestsPerSec,
        paired(name, 'e2', 'b', rps),
        1,
      );
  }
  const c = find(UPDATE_HEAVY, 'c');
  if (c) ratioTarget(`${UPDATE_HEAVY}: (c) / (a) req/s`, c.ratio, c.perRepRatios, MEMORY_MODE);
  for (const { name } of WORKLOADS) {
    const [b, own] = [find(name, 'b'), find(name, 'c')];
    if (b && own)
      ratioTarget(
        `${name}: (c) / (b) req/s`,
        own.requestsPerSec / b.requestsPerSec,
        paired(name, 'c', 'b', rps),
        1,
        true,
      );
  }
  const ok = summaries.every((s) => s.rowsOk);
  targets.push({
    check: "audit rows match the requests (every run; (e): drained, every mutation's request id once)",
    value: ok ? 'yes' : 'no',
    perRep: '',
    target: 'yes',
    pass: ok,
    clear: true,
  });
  return targets;
}

/** All Postgres CPU seconds of a run per request: span, plus (e)'s drain. */
function pgTotal(r: Run): number | null {
  if (r.postgresCpuSeconds === null) return null;
  const later = r.drain?.postgresCpu ? Object.values(r.drain.postgresCpu).reduce((a, b) => a + b, 0) : 0;
  return (r.postgresCpuSeconds + later) / r.requests;
}

function spread(values: number[]): string {
  if (!values.length) return 'n/a';
  return `${Math.min(...values).toFixed(2)}..${Math.max(...values).toFixed(2)}`;
}
