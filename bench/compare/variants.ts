import { Client } from 'pg';
import { loadConfig } from 'src/common/config/environment';
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
  key: 'a' | 'b' | 'c' | 'd';
  label: string;
  env: Record<string, string>;
  /** Switches the variant's database side on for its runs, and off after them. */
  setUp?: (sql: Client) => Promise<void>;
  tearDown?: (sql: Client) => Promise<void>;
}

export interface UnavailableVariant {
  key: Variant['key'];
  label: string;
  reason: string;
}

const ALL: Variant[] = [
  { key: 'a', label: '(a) no auditing', env: UNAUDITED },
  {
    key: 'b',
    label: '(b) Postgres trigger',
    env: UNAUDITED,
    setUp: (sql) => setTriggerAudit(sql, true),
    tearDown: (sql) => setTriggerAudit(sql, false),
  },
  {
    key: 'c',
    label: '(c) this project, memory',
    env: { AUDIT_DISABLED: 'false', AUDIT_DELIVERY: 'memory' },
  },
  {
    key: 'd',
    label: '(d) this project, redis',
    env: { AUDIT_DISABLED: 'false', AUDIT_DELIVERY: 'redis', REDIS_URL },
  },
];

/** The variants this version of the service can run, and the others with the reason (never faked). */
export function variants(): { available: Variant[]; unavailable: UnavailableVariant[] } {
  const available: Variant[] = [];
  const unavailable: UnavailableVariant[] = [];
  for (const variant of ALL) {
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
