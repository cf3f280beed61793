import { join } from 'node:path';
import { DEFAULT_IGNORED_FIELDS } from './diff';
import { DEFAULT_REDACT_KEYS } from './redaction';
import { AuditModuleOptions, AuditRedisOptions, AuditSeverity } from './audit.types';
import type { SpoolOptions } from './delivery/disk-spool';
import { parseKek } from './personal-data/personal-data.cipher';
import { DEFAULT_PERSONAL_KEYS } from './personal-data/personal-data.protector';
import { AuditTrailConfig } from '../common/config/audit-config';
import { DEV_PERSONAL_DATA_KEY } from '../common/config/dev-keys';
import { resolveTrailConfig } from './trail-config';

export interface ResolvedRedisOptions extends Required<Omit<AuditRedisOptions, 'url' | 'cluster'>> {
  url: string | null;
  /** Seed nodes of a Redis Cluster; null: the single Redis at `url`. */
  cluster: string[] | null;
  deadLetterKey: string;
}

export interface ResolvedPersonalDataOptions {
  encryptionKey: Buffer;
  /** No key was configured: the public development key is in use (protects nothing; warned at start-up). */
  isDevDefault: boolean;
  keys: string[];
  keyTtlMs: number;
}

/** Options that configure the rest of the trail (jobs, admin API, health): resolved into `trail`. */
type TrailSections = 'partitions' | 'archive' | 'integrity' | 'query' | 'readyMaxLagMs' | 'replicas';

export type ResolvedAuditOptions = Required<
  Omit<AuditModuleOptions, 'extraRedactKeys' | 'spool' | 'redis' | 'personalData' | TrailSections>
> & {
  spool: SpoolOptions | null;
  redis: ResolvedRedisOptions | null;
  personalData: ResolvedPersonalDataOptions | null;
  /** The settings of the jobs, the admin API and the health indicators (AUDIT_CONFIG). */
  trail: AuditTrailConfig;
};

/**
 * Personal data is encrypted by default. The key: the option, else AUDIT_PERSONAL_DATA_KEY; without either
 * a development key outside production (`isDevDefault`, the app warns) and a start-up error in production.
 * Only an explicit `personalData: false` stores personal values in clear.
 */
function resolvePersonalData(
  input: AuditModuleOptions['personalData'],
  problems: string[],
  env: NodeJS.ProcessEnv,
): ResolvedPersonalDataOptions | null {
  if (input === false) return null;
  const options = input ?? {};
  const configuredKey = options.encryptionKey ?? (env.AUDIT_PERSONAL_DATA_KEY || undefined);
  if (configuredKey === undefined && env.NODE_ENV === 'production') {
    problems.push(
      'personalData.encryptionKey (or AUDIT_PERSONAL_DATA_KEY) is required when NODE_ENV=production; set personalData: false to store personal data in clear',
    );
    return null;
  }
  let encryptionKey: Buffer;
  try {
    const key = configuredKey ?? DEV_PERSONAL_DATA_KEY;
    encryptionKey = Buffer.isBuffer(key) ? key : parseKek(key);
    if (encryptionKey.length !== 32) throw new Error('must be 32 bytes');
  } catch (error) {
    problems.push(`personalData.encryptionKey ${(error as Error).message}`);
    return null;
  }
  const keyTtlMs = options.keyTtlMs ?? 10 * 60 * 1000;
  if (!(keyTtlMs >= 1000)) problems.push('personalData.keyTtlMs must be >= 1000');
  return {
    encryptionKey,
    isDevDefault: configuredKey === undefined,
    keys: [...(options.keys ?? DEFAULT_PERSONAL_KEYS), ...(options.extraKeys ?? [])],
    keyTtlMs,
  };
}

export function resolveAuditOptions(
  options: AuditModuleOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedAuditOptions {
  const problems: string[] = [];
  const resolved: ResolvedAuditOptions = {
    enabled: options.enabled ?? true,
    batchSize: options.batchSize ?? 2000,
    flushIntervalMs: options.flushIntervalMs ?? 250,
    maxBuffer: options.maxBuffer ?? 50_000,
    maxBufferBytes: options.maxBufferBytes ?? 32 * 1024 * 1024,
    flushConcurrency: options.flushConcurrency ?? 2,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    maxStateBytes: options.maxStateBytes ?? 64 * 1024,
    redactKeys: [...(options.redactKeys ?? DEFAULT_REDACT_KEYS), ...(options.extraRedactKeys ?? [])],
    ignoredFields: options.ignoredFields ?? [...DEFAULT_IGNORED_FIELDS],
    ignoredFieldsByResource: options.ignoredFieldsByResource ?? {},
    trustedProxies: options.trustedProxies ?? [],
    maxListIds: options.maxListIds ?? 100,
    criticalActions: options.criticalActions ?? ['delete', 'export', 'erase'],
    criticalEventTypes: options.criticalEventTypes ?? [],
    criticalSeverities: options.criticalSeverities ?? ['critical'],
    overflow: options.overflow ?? 'drop',
    overflowBlockMs: options.overflowBlockMs ?? 100,
    spool:
      options.spool === false
        ? null
        : {
            directory: options.spool?.directory ?? join('.data', 'spool'),
            maxBytes: options.spool?.maxBytes ?? 1024 * 1024 * 1024,
            fsync: options.spool?.fsync ?? 'always',
          },
    futureHorizonMs: options.futureHorizonMs ?? 366 * 24 * 60 * 60 * 1000,
    delivery: options.delivery ?? 'memory',
    redis: options.redis
      ? {
          url: options.redis.url ?? null,
          cluster: options.redis.cluster?.length ? options.redis.cluster : null,
          shards: options.redis.shards ?? 1,
          streamKey: options.redis.streamKey ?? 'audit:events',
          group: options.redis.group ?? 'audit-writers',
          consumers: options.redis.consumers ?? 2,
          claimIdleMs: options.redis.claimIdleMs ?? 30_000,
          maxStreamLength: options.redis.maxStreamLength ?? 1_000_000,
          deadLetterKey: `${options.redis.streamKey ?? 'audit:events'}:dead`,
        }
      : null,
    personalData: resolvePersonalData(options.personalData, problems, env),
    trail: resolveTrailConfig(options, problems, env),
  };
  if (!(resolved.batchSize >= 1)) problems.push('batchSize must be >= 1');
  if (!(resolved.maxBuffer >= resolved.batchSize)) problems.push('maxBuffer must be >= batchSize');
  if (!(resolved.maxBufferBytes >= 1024 * 1024)) {
    problems.push(`maxBufferBytes must be >= 1048576 (1 MiB), got ${String(resolved.maxBufferBytes)}`);
  }
  if (!(resolved.flushConcurrency >= 1)) problems.push('flushConcurrency must be >= 1');
  if (!(resolved.flushIntervalMs >= 1)) problems.push('flushIntervalMs must be >= 1');
  if (!(resolved.maxStateBytes >= 256)) problems.push('maxStateBytes must be >= 256');
  if (!['drop', 'block'].includes(resolved.overflow)) problems.push('overflow must be "drop" or "block"');
  if (!['memory', 'redis'].includes(resolved.delivery)) problems.push('delivery must be "memory" or "redis"');
  if (resolved.delivery === 'redis' && !resolved.redis?.url && !resolved.redis?.cluster) {
    problems.push(
      'delivery "redis" needs redis.url (REDIS_URL) or redis.cluster (AUDIT_REDIS_CLUSTER_NODES)',
    );
  }
  if (resolved.redis && !(resolved.redis.consumers >= 0)) problems.push('redis.consumers must be >= 0');
  if (resolved.redis) problems.push(...shardProblems(resolved.redis));
  if (problems.length > 0) throw new Error(`Invalid AuditModule options: ${problems.join('; ')}`);
  return resolved;
}

function shardProblems({ shards, cluster, streamKey }: ResolvedRedisOptions): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(shards) && shards >= 1 && shards <= 64)) {
    problems.push(`redis.shards (AUDIT_REDIS_SHARDS) must be an integer from 1 to 64, got ${String(shards)}`);
  }
  // Shard keys are hash-tagged {streamKey:i}: a brace in the key would end or nest the tag.
  if ((shards !== 1 || cluster) && /[{}]/.test(streamKey)) {
    problems.push(
      'redis.streamKey must not contain { or } with several shards or a cluster (keys are hash-tagged)',
    );
  }
  for (const node of cluster ?? []) {
    if (!/^rediss?:\/\/[^/]+$/.test(node))
      problems.push(`redis.cluster: "${node}" is not a redis://host:port URL`);
  }
  return problems;
}

/** Critical events are never dropped: they take the durable or synchronous path whatever the load. */
export function isCritical(
  options: Pick<ResolvedAuditOptions, 'criticalActions' | 'criticalEventTypes' | 'criticalSeverities'>,
  event: { action: string; severity: string; eventType?: string },
): boolean {
  return (
    options.criticalSeverities.includes(event.severity as AuditSeverity) ||
    options.criticalActions.includes(event.action) ||
    (event.eventType !== undefined && options.criticalEventTypes.includes(event.eventType))
  );
}
