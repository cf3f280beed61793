import { join } from 'node:path';
import { DEFAULT_REDACT_KEYS } from './redaction';
import { AuditModuleOptions, AuditRedisOptions, AuditSeverity } from './audit.types';
import type { SpoolOptions } from './delivery/disk-spool';
import { parseKek } from './personal-data/personal-data.cipher';
import { DEFAULT_PERSONAL_KEYS } from './personal-data/personal-data.protector';

export interface ResolvedRedisOptions extends Required<AuditRedisOptions> {
  deadLetterKey: string;
}

export interface ResolvedPersonalDataOptions {
  encryptionKey: Buffer;
  keys: string[];
  keyTtlMs: number;
}

export type ResolvedAuditOptions = Required<
  Omit<AuditModuleOptions, 'extraRedactKeys' | 'spool' | 'redis' | 'personalData'>
> & {
  spool: SpoolOptions | null;
  redis: ResolvedRedisOptions | null;
  personalData: ResolvedPersonalDataOptions | null;
};

function resolvePersonalData(
  options: AuditModuleOptions['personalData'],
  problems: string[],
): ResolvedPersonalDataOptions | null {
  if (!options) return null;
  let encryptionKey: Buffer;
  try {
    encryptionKey = Buffer.isBuffer(options.encryptionKey)
      ? options.encryptionKey
      : parseKek(options.encryptionKey);
    if (encryptionKey.length !== 32) throw new Error('must be 32 bytes');
  } catch (error) {
    problems.push(`personalData.encryptionKey ${(error as Error).message}`);
    return null;
  }
  const keyTtlMs = options.keyTtlMs ?? 10 * 60 * 1000;
  if (!(keyTtlMs >= 1000)) problems.push('personalData.keyTtlMs must be >= 1000');
  return {
    encryptionKey,
    keys: [...(options.keys ?? DEFAULT_PERSONAL_KEYS), ...(options.extraKeys ?? [])],
    keyTtlMs,
  };
}

export function resolveAuditOptions(options: AuditModuleOptions = {}): ResolvedAuditOptions {
  const problems: string[] = [];
  const resolved: ResolvedAuditOptions = {
    enabled: options.enabled ?? true,
    batchSize: options.batchSize ?? 2000,
    flushIntervalMs: options.flushIntervalMs ?? 250,
    maxBuffer: options.maxBuffer ?? 50_000,
    flushConcurrency: options.flushConcurrency ?? 2,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    maxStateBytes: options.maxStateBytes ?? 64 * 1024,
    redactKeys: [...(options.redactKeys ?? DEFAULT_REDACT_KEYS), ...(options.extraRedactKeys ?? [])],
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
          url: options.redis.url,
          streamKey: options.redis.streamKey ?? 'audit:events',
          group: options.redis.group ?? 'audit-writers',
          consumers: options.redis.consumers ?? 2,
          claimIdleMs: options.redis.claimIdleMs ?? 30_000,
          maxStreamLength: options.redis.maxStreamLength ?? 1_000_000,
          deadLetterKey: `${options.redis.streamKey ?? 'audit:events'}:dead`,
        }
      : null,
    personalData: resolvePersonalData(options.personalData, problems),
  };
  if (!(resolved.batchSize >= 1)) problems.push('batchSize must be >= 1');
  if (!(resolved.maxBuffer >= resolved.batchSize)) problems.push('maxBuffer must be >= batchSize');
  if (!(resolved.flushConcurrency >= 1)) problems.push('flushConcurrency must be >= 1');
  if (!(resolved.flushIntervalMs >= 1)) problems.push('flushIntervalMs must be >= 1');
  if (!(resolved.maxStateBytes >= 256)) problems.push('maxStateBytes must be >= 256');
  if (!['drop', 'block'].includes(resolved.overflow)) problems.push('overflow must be "drop" or "block"');
  if (!['memory', 'redis'].includes(resolved.delivery)) problems.push('delivery must be "memory" or "redis"');
  if (resolved.delivery === 'redis' && !resolved.redis?.url) {
    problems.push('delivery "redis" needs redis.url (REDIS_URL)');
  }
  if (resolved.redis && !(resolved.redis.consumers >= 0)) problems.push('redis.consumers must be >= 0');
  if (problems.length > 0) throw new Error(`Invalid AuditModule options: ${problems.join('; ')}`);
  return resolved;
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
