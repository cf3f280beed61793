import { createHmac } from 'node:crypto';
import { resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { AuditTrailConfig } from '../common/config/audit-config';
import { DEV_SIGNING_KEY } from '../common/config/dev-keys';
import { parsePrivateKey, parsePublicKey } from '../common/crypto/ed25519-keys';
import { replicaUrlProblems } from '../common/database/replica-url';
import { AuditModuleOptions } from './audit.types';

const isProduction = (env: NodeJS.ProcessEnv) => env.NODE_ENV === 'production';

/**
 * The settings of the whole trail (jobs, admin API, health) from `AuditModule.forRoot()` options, every
 * default filled in; problems are appended to `problems` (start-up fails listing all of them).
 */
export function resolveTrailConfig(
  options: AuditModuleOptions,
  problems: string[],
  env: NodeJS.ProcessEnv = process.env,
): AuditTrailConfig {
  const partitions = options.partitions ?? {};
  const archive = options.archive ?? {};
  const integrity = options.integrity ?? {};
  const query = options.query ?? {};

  const configuredKey = integrity.signingKey ?? (env.AUDIT_SIGNING_KEY || undefined);
  if (!configuredKey && isProduction(env)) {
    problems.push('integrity.signingKey (or AUDIT_SIGNING_KEY) is required when NODE_ENV=production');
  }
  const signingKey = configuredKey ?? DEV_SIGNING_KEY;
  try {
    parsePrivateKey(signingKey);
  } catch {
    problems.push(
      'integrity.signingKey must be an Ed25519 private key: a PKCS#8 PEM or a base64 32-byte seed',
    );
  }
  const verifyKeys = integrity.verifyKeys ?? [];
  for (const key of verifyKeys) {
    try {
      parsePublicKey(key);
    } catch {
      problems.push(
        `integrity.verifyKeys: "${key.slice(0, 12)}..." is not a base64 32-byte Ed25519 public key`,
      );
    }
  }

  const config: AuditTrailConfig = {
    redisUrl: query.redisUrl,
    audit: {
      maxBuffer: options.maxBuffer ?? 50_000,
      readyMaxLagMs: options.readyMaxLagMs ?? 60_000,
      partitionPremake: partitions.premake ?? 3,
      partitionGranularity: partitions.granularity ?? 'monthly',
      partitionIntervalMs: partitions.intervalMs ?? 60 * 60 * 1000,
      partitionHorizonDays: partitions.horizonDays ?? 366,
    },
    archive: {
      url: archive.url ?? pathToFileURL(resolve('.data', 'archive')).href,
      s3Endpoint: archive.s3Endpoint,
      s3ForcePathStyle: archive.s3ForcePathStyle ?? false,
      s3Region: archive.s3Region ?? env.AWS_REGION ?? 'us-east-1',
      hotDays: archive.hotDays ?? 90,
      warmDays: archive.warmDays ?? 365,
      retentionDays: archive.retentionDays ?? 2557,
      intervalMs: archive.intervalMs ?? 60 * 60 * 1000,
      compression: archive.compression ?? 'gzip',
      format: archive.format ?? 'ndjson',
      exportStreams: archive.exportStreams ?? 2,
      spoolDir: archive.spoolDir ?? tmpdir(),
      warmTablespace: archive.warmTablespace,
    },
    integrity: {
      signingKey,
      signingKeyIsDevDefault: !configuredKey,
      verifyKeys,
      checkpointIntervalMs: integrity.checkpointIntervalMs ?? 60 * 60 * 1000,
      headIntervalMs: integrity.headIntervalMs ?? 60 * 1000,
    },
    query: {
      cacheTtlSeconds: query.cacheTtlSeconds ?? 15,
      cachePrefix: query.cachePrefix ?? 'audit:cache:',
      statsRefreshMs: query.statsRefreshMs ?? 5 * 60 * 1000,
    },
    // Every replica derives the same cursor key from the shared signing key.
    cursorSecret: query.cursorSecret ?? createHmac('sha256', signingKey).update('cursor').digest('base64'),
    replicas: {
      urls: options.replicas?.urls ?? [],
      maxLagMs: options.replicas?.maxLagMs ?? 10_000,
      checkIntervalMs: options.replicas?.checkIntervalMs ?? 5_000,
      connectTimeoutMs: options.replicas?.connectTimeoutMs ?? 2_000,
      poolMax: options.replicas?.poolMax ?? 8,
    },
  };

  const { hotDays, warmDays, retentionDays, exportStreams, url, compression } = config.archive;
  if (!(hotDays < warmDays && warmDays < retentionDays)) {
    problems.push(
      `archive: hotDays (${hotDays}) < warmDays (${warmDays}) < retentionDays (${retentionDays}) must hold`,
    );
  }
  if (!(Number.isInteger(exportStreams) && exportStreams >= 1 && exportStreams <= 8)) {
    problems.push('archive.exportStreams must be an integer from 1 to 8');
  }
  if (!/^(file:\/\/\/|s3:\/\/[^/]+)/.test(url))
    problems.push('archive.url must be file:///absolute/path or s3://bucket/prefix');
  if (!['gzip', 'zstd', 'brotli'].includes(compression))
    problems.push('archive.compression must be gzip, zstd or brotli');
  if (!['ndjson', 'parquet'].includes(config.archive.format))
    problems.push('archive.format must be ndjson or parquet');
  if (!['monthly', 'weekly', 'daily'].includes(config.audit.partitionGranularity)) {
    problems.push('partitions.granularity must be monthly, weekly or daily');
  }
  if (!(config.audit.partitionPremake >= 0)) problems.push('partitions.premake must be >= 0');
  if (!(config.audit.readyMaxLagMs >= 1000)) problems.push('readyMaxLagMs must be >= 1000');
  if (!(config.integrity.checkpointIntervalMs >= 1000))
    problems.push('integrity.checkpointIntervalMs must be >= 1000');
  if (!(config.integrity.headIntervalMs >= 1000)) problems.push('integrity.headIntervalMs must be >= 1000');
  problems.push(...replicaProblems(config.replicas));
  return config;
}

function replicaProblems(replicas: AuditTrailConfig['replicas']): string[] {
  if (!Array.isArray(replicas.urls)) return ['replicas.urls must be a list of postgres:// URLs'];
  const problems = replicaUrlProblems(replicas.urls, 'replicas.urls');
  if (!(replicas.maxLagMs >= 100)) problems.push('replicas.maxLagMs must be >= 100');
  if (!(replicas.checkIntervalMs >= 100)) problems.push('replicas.checkIntervalMs must be >= 100');
  if (!(replicas.connectTimeoutMs >= 100)) problems.push('replicas.connectTimeoutMs must be >= 100');
  if (!(Number.isInteger(replicas.poolMax) && replicas.poolMax >= 1))
    problems.push('replicas.poolMax must be an integer >= 1');
  return problems;
}
