import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../../src/config/environment';
import { appEnv } from '../lib/app';
import { BackendCpuMeter } from '../lib/backend-cpu';
import { setTriggerAudit } from './trigger-audit';
import { Drain, measureDrain, setWalCapture, WAL_ENV, WalWorker } from './wal-worker';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const UNAUDITED = { AUDIT_DISABLED: 'true' };

/**
 * A variant runs on its own service process (same build, same database), (a) and (b) included although their
 * configuration is the same: each run then follows a run on another process, so every variant starts from
 * equally idle connections and cold caches, which a shared process would spare one of them.
 */
export interface Variant {
  key: 'a' | 'b' | 'c' | 'd' | 'e' | 'e2' | 'c0' | 'c1' | 'c2';
  label: string;
  env: Record<string, string>;
  /** Node flags of its service process (the capture stages preload their switch). */
  nodeArgs?: string[];
  /** Where its audit rows go: none, the trigger's table, or audit_events (an event per request). */
  records: 'nothing' | 'trigger' | 'events';
  /** Switches the variant's database side on for its runs, and off after them. */
  setUp?: (sql: Client) => Promise<void>;
  tearDown?: (sql: Client) => Promise<void>;
  /** After the warm-up's rows are written, before the measured span (e.g. (e) defers its worker). */
  afterWarmup?: (sql: Client) => Promise<void>;
  /** In the measured span, after the load: work the variant still owes (its worker catching up). */
  settle?: (sql: Client) => Promise<void>;
  /** After the measured span: the deferred worker on the backlog up to `target`, measured on its own. */
  drain?: (sql: Client, target: string, meter: BackendCpuMeter) => Promise<Drain>;
  /** A worker process of the variant, whose CPU in the measured span counts with the run. */
  workerPid?: () => number;
  /** Its mutations' events carry the request ids the responses did (checked one by one). */
  checkRequestIds?: boolean;
}

export interface UnavailableVariant {
  key: Variant['key'];
  label: string;
  reason: string;
}

const MEMORY = { AUDIT_DISABLED: 'false', AUDIT_DELIVERY: 'memory' };

const ALL: Variant[] = [
  { key: 'a', label: '(a) no auditing', env: UNAUDITED, records: 'nothing' },
  {
    key: 'b',
    label: '(b) Postgres trigger',
    env: UNAUDITED,
    records: 'trigger',
    setUp: (sql) => setTriggerAudit(sql, true),
    tearDown: (sql) => setTriggerAudit(sql, false),
  },
  { key: 'c', label: '(c) this project, memory', env: MEMORY, records: 'events' },
  {
    key: 'd',
    label: '(d) this project, redis',
    env: { AUDIT_DISABLED: 'false', AUDIT_DELIVERY: 'redis', REDIS_URL },
    records: 'events',
  },
];

/** The slot consumer of the (e) variants, started by the bench once the database exists. */
export interface WalWorkerRef {
  worker: () => WalWorker;
}

/** (e) on: its database side on, the slot moved past the other variants' writes, the worker reading. */
const walOn = (ref: WalWorkerRef) => async (sql: Client) => {
  await setWalCapture(sql, true);
  await ref.worker().skipToNow(sql);
  ref.worker().resume();
};
const walOff = (ref: WalWorkerRef) => async (sql: Client) => {
  // Paused only once idle: a worker stopped inside its COPY would hold the audit table's locks.
  if (!(await ref.worker().caughtUp(sql))) throw new Error('The wal worker did not catch up');
  await ref.worker().pause(sql);
  await setWalCapture(sql, false);
};
const caughtUp = (ref: WalWorkerRef) => async (sql: Client) => {
  if (!(await ref.worker().caughtUp(sql))) throw new Error('The wal worker did not catch up');
};

/**
 * (e) this project in `wal` mode, both ways the targets measure it. Its API processes only put each
 * request's context into its transaction (AUDIT_WAL_CONSUME=off); the slot consumer is WalWorker's process.
 * - (e) request path: the worker deferred during the measured span (as if on another node), then resumed on
 *   the backlog; the drain is measured apart (Run.drain) and must complete.
 * - (e2) sustained: the worker reading alongside during the span, its CPU counted with the run's.
 */
function walVariants(ref: WalWorkerRef): Variant[] {
  const env = { ...WAL_ENV, AUDIT_WAL_CONSUME: 'off' };
  const common = {
    env,
    records: 'events' as const,
    checkRequestIds: true,
    setUp: walOn(ref),
    tearDown: walOff(ref),
  };
  return [
    {
      ...common,
      key: 'e',
      label: '(e) this project, wal, worker deferred',
      afterWarmup: async (sql) => {
        await caughtUp(ref)(sql);
        await ref.worker().pause(sql);
      },
      drain: (sql, target, meter) => measureDrain(sql, ref.worker(), target, meter),
    },
    {
      ...common,
      key: 'e2',
      label: '(e2) this project, wal, worker alongside',
      afterWarmup: caughtUp(ref),
      settle: caughtUp(ref),
      workerPid: () => ref.worker().pid,
    },
  ];
}

/**
 * `--stages`: (c) stopped after each stage of its capture (see capture-stage.ts), between (b) and (c), so the
 * table shows what each stage adds: (c0) interceptor and watch, (c1) + building the event, (c2) + encryption
 * and COPY encoding, (c) + the writer's COPY.
 */
const stage = (key: Variant['key'], label: string, name: string): Variant => ({
  key,
  label,
  env: { ...MEMORY, BENCH_CAPTURE_STAGE: name },
  nodeArgs: ['--require', join(__dirname, 'capture-stage.js')],
  records: 'nothing',
});
const STAGES: Variant[] = [
  stage('c0', '(c0) interceptor + watch only', 'none'),
  stage('c1', '(c1) + build the event', 'build'),
  stage('c2', '(c2) + encrypt and encode', 'encode'),
];
/** The app pool of every variant in a `--stages` run, unless `--pool` says otherwise (see variants()). */
const STAGES_POOL_MAX = 10;

/**
 * The variants of a run and the others with the reason (never faked). `stages`: (a), (b), the stages and (c);
 * (d) is left out (its stream consumers need connections too; the stages are about (c)), and the app pools
 * default to 10, since six service processes with the service's default of 20 could ask a default Postgres
 * (max_connections 100) for more connections than it has. `poolMax`: every variant's DATABASE_POOL_MAX (0:
 * the service's default, or 10 with the stages).
 */
export function variants(
  stages = false,
  poolMax = 0,
  wal: WalWorkerRef | null = null,
): { available: Variant[]; unavailable: UnavailableVariant[] } {
  const [a, b, c] = ALL;
  const pool = poolMax || (stages ? STAGES_POOL_MAX : 0);
  const own = wal ? walVariants(wal) : [];
  const list = (stages ? [a, b, ...STAGES, c, ...own] : [...ALL, ...own]).map((variant) =>
    pool ? { ...variant, env: { ...variant.env, DATABASE_POOL_MAX: String(pool) } } : variant,
  );
  const available: Variant[] = [];
  const unavailable: UnavailableVariant[] = [];
  for (const variant of list) {
    const reason = configError(variant.env);
    if (reason) unavailable.push({ key: variant.key, label: variant.label, reason });
    else available.push(variant);
  }
  return { available, unavailable };
}

/** Whether the service's own config validation accepts the environment (e.g. AUDIT_DELIVERY=redis). */
function configError(env: Record<string, string>): string | null {
  try {
    loadConfig(appEnv('postgres://postgres@127.0.0.1:5432/postgres', env));
    return null;
  } catch (error) {
    const message = (error as Error).message;
    const line = message.split('\n').find((text) => text.includes('AUDIT_DELIVERY'));
    return line?.replace(/^[\s-]+/, '') ?? message;
  }
}
