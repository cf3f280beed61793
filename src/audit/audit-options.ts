import { DEFAULT_REDACT_KEYS } from 'src/audit/redaction';
import { AuditModuleOptions } from 'src/audit/audit.types';

export type ResolvedAuditOptions = Required<Omit<AuditModuleOptions, 'extraRedactKeys'>>;

export function resolveAuditOptions(options: AuditModuleOptions = {}): ResolvedAuditOptions {
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
    criticalActions: options.criticalActions ?? ['delete', 'export'],
  };
  const problems: string[] = [];
  if (!(resolved.batchSize >= 1)) problems.push('batchSize must be >= 1');
  if (!(resolved.maxBuffer >= resolved.batchSize)) problems.push('maxBuffer must be >= batchSize');
  if (!(resolved.flushConcurrency >= 1)) problems.push('flushConcurrency must be >= 1');
  if (!(resolved.flushIntervalMs >= 1)) problems.push('flushIntervalMs must be >= 1');
  if (!(resolved.maxStateBytes >= 256)) problems.push('maxStateBytes must be >= 256');
  if (problems.length > 0) throw new Error(`Invalid AuditModule options: ${problems.join('; ')}`);
  return resolved;
}
