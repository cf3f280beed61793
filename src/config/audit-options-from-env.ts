import { AuditModuleOptions } from '../audit';
import { resolveTrailConfig } from '../audit';
import { AuditTrailConfig } from '../common/config/audit-config';
import { AppConfig, ConfigError, loadConfig } from '../config/environment';

/** `AuditModule.forRoot()` options from the validated environment configuration (README, Configuration). */
export function auditOptionsFromConfig(config: AppConfig): AuditModuleOptions {
  const { audit, archive, integrity, query, personalData } = config;
  return {
    enabled: audit.enabled,
    batchSize: audit.batchSize,
    flushIntervalMs: audit.flushIntervalMs,
    maxBuffer: audit.maxBuffer,
    maxBufferBytes: audit.maxBufferBytes,
    flushConcurrency: audit.flushConcurrency,
    drainTimeoutMs: audit.drainTimeoutMs,
    maxStateBytes: audit.maxStateBytes,
    trustedProxies: audit.trustedProxies,
    delivery: audit.delivery,
    redis:
      audit.delivery === 'redis' && (config.redisUrl || audit.stream.clusterNodes)
        ? {
            url: config.redisUrl,
            cluster: audit.stream.clusterNodes ?? undefined,
            shards: audit.stream.shards,
            streamKey: audit.stream.key,
            consumers: audit.stream.consumers,
            maxStreamLength: audit.stream.maxLength,
            claimIdleMs: audit.stream.claimIdleMs,
          }
        : undefined,
    spool: audit.spool ?? false,
    overflow: audit.overflow,
    overflowBlockMs: audit.overflowBlockMs,
    criticalActions: audit.criticalActions,
    criticalEventTypes: audit.criticalEventTypes,
    criticalSeverities: audit.criticalSeverities,
    futureHorizonMs: audit.partitionHorizonDays * 24 * 60 * 60 * 1000,
    readyMaxLagMs: audit.readyMaxLagMs,
    personalData: personalData
      ? {
          encryptionKey: personalData.encryptionKeyIsDevDefault ? undefined : personalData.encryptionKey,
          keys: personalData.keys,
        }
      : false,
    partitions: {
      premake: audit.partitionPremake,
      granularity: audit.partitionGranularity,
      intervalMs: audit.partitionIntervalMs,
      horizonDays: audit.partitionHorizonDays,
    },
    archive,
    integrity: {
      signingKey: integrity.signingKeyIsDevDefault ? undefined : integrity.signingKey,
      verifyKeys: integrity.verifyKeys,
      checkpointIntervalMs: integrity.checkpointIntervalMs,
      headIntervalMs: integrity.headIntervalMs,
    },
    query: { ...query, redisUrl: config.redisUrl },
    replicas: config.replicas.urls.length > 0 ? config.replicas : undefined,
  };
}

/**
 * `AuditModule.forRoot(auditOptionsFromEnv())`: the module configured from the same environment variables
 * as the demo service (AUDIT_*, ARCHIVE_*, REDIS_URL...). Throws a ConfigError listing every bad variable.
 */
export function auditOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AuditModuleOptions {
  return auditOptionsFromConfig(loadConfig(env));
}

/** The trail's settings from the environment configuration (the CLIs, which run without AuditModule). */
export function trailConfigFrom(config: AppConfig, env: NodeJS.ProcessEnv = process.env): AuditTrailConfig {
  const problems: string[] = [];
  const trail = resolveTrailConfig(auditOptionsFromConfig(config), problems, env);
  if (problems.length > 0) throw new ConfigError(problems);
  return trail;
}
