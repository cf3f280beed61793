import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../../src/config/environment';
import { appEnv } from '../lib/app';
import { setTriggerAudit } from './trigger-audit';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const UNAUDITED = { AUDIT_DISABLED: 'true' };

/**
 * A variant runs on its own service process (same build, same database), (a) and (b) included although their
 * configuration is the same: each run then follows a run on another process, so every variant starts from
 * equally idle connections and cold caches, which a shared process would spare one of them.
 */
export interface Variant {
  key: 'a' | 'b' | 'c' | 'd' | 'c0' | 'c1' | 'c2';
  label: string;
  env: Record<string, string>;
  /** Node flags of its service process (the capture stages preload their switch). */
  nodeArgs?: string[];
  /** Where its audit rows go: none, the trigger's table, or audit_events (an event per request). */
  records: 'nothing' | 'trigger' | 'events';
  /** Switches the variant's database side on for its runs, and off after them. */
  setUp?: (sql: Client) => Promise<void>;
  tearDown?: (sql: Client) => Promise<void>;
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
): { available: Variant[]; unavailable: UnavailableVariant[] } {
  const [a, b, c] = ALL;
  const pool = poolMax || (stages ? STAGES_POOL_MAX : 0);
  const list = (stages ? [a, b, ...STAGES, c] : ALL).map((variant) =>
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
