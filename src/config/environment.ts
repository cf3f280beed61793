import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { plainToInstance } from 'class-transformer';
import proxyaddr from 'proxy-addr';
import { parsePrivateKey, parsePublicKey } from '../common/crypto/ed25519-keys';
import type { AuditTrailConfig } from '../common/config/audit-config';
import { DEV_PERSONAL_DATA_KEY, DEV_SIGNING_KEY } from '../common/config/dev-keys';
import { replicaUrlProblems } from '../common/database/replica-url';
import { duckDbUnavailable, zstdUnavailable } from '../archive';
import { parseKek } from '../audit';
import { DEFAULT_PERSONAL_KEYS } from '../audit';
import { validateSync } from 'class-validator';
import { EnvironmentVariables } from './environment.variables';

export interface AppConfig {
  port: number;
  /** Unset: main.ts starts an embedded Postgres under `dataDir`. */
  databaseUrl?: string;
  /** Connections of the app's TypeORM pool (the API's own queries; the audit writer has its own small pool). */
  databasePoolMax: number;
  dataDir: string;
  embeddedPgPort: number;
  redisUrl?: string;
  jwtSecret: string;
  /** Optional JWKS endpoint for asymmetric tokens (RS256/ES256/EdDSA); HS256 tokens use jwtSecret. */
  jwksUrl?: string;
  /** True when AUTH_JWT_SECRET was not set and the development secret is in use. */
  jwtSecretIsDevDefault: boolean;
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  audit: AuditTrailConfig['audit'] & {
    /** False only when AUDIT_DISABLED=true (benchmarks, local experiments): nothing is captured. */
    enabled: boolean;
    delivery: 'memory' | 'redis';
    /** Redis Streams delivery (AUDIT_DELIVERY=redis). */
    stream: {
      key: string;
      consumers: number;
      maxLength: number;
      claimIdleMs: number;
      /** AUDIT_REDIS_SHARDS. */
      shards: number;
      /** AUDIT_REDIS_CLUSTER_NODES; null: REDIS_URL. */
      clusterNodes: string[] | null;
    };
    /** Null when AUDIT_SPOOL_DIR=off: failed batches then wait in memory, bounded by the buffer. */
    spool: { directory: string; maxBytes: number; fsync: 'always' | 'never' } | null;
    overflow: 'drop' | 'block';
    overflowBlockMs: number;
    criticalActions: string[];
    criticalEventTypes: string[];
    criticalSeverities: Array<'info' | 'notice' | 'warning' | 'critical'>;
    batchSize: number;
    flushIntervalMs: number;
    /** AUDIT_MAX_BUFFER_MB, in bytes. */
    maxBufferBytes: number;
    flushConcurrency: number;
    drainTimeoutMs: number;
    maxStateBytes: number;
    trustedProxies: string[];
  };
  archive: AuditTrailConfig['archive'];
  integrity: AuditTrailConfig['integrity'];
  /** Personal data protection (crypto-shredding); null when AUDIT_PERSONAL_KEYS=off. */
  personalData: {
    /** Key-encryption key (32 bytes) wrapping the per-subject keys. */
    encryptionKey: Buffer;
    /** True when AUDIT_PERSONAL_DATA_KEY was not set and the development key is in use (warns loudly). */
    encryptionKeyIsDevDefault: boolean;
    keys: string[];
  } | null;
  query: AuditTrailConfig['query'];
  /** Streaming replicas for the admin reads (AUDIT_REPLICA_URLS; empty: every read on the primary). */
  replicas: { urls: string[]; maxLagMs: number; checkIntervalMs: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const DEV_JWT_SECRET = 'dev-only-secret-change-me-dev-only-secret-change-me';
export { DEV_PERSONAL_DATA_KEY, DEV_SIGNING_KEY } from '../common/config/dev-keys';

/** Validates the environment once at boot; throws a ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // An empty variable means "unset", as in most deployment tools.
  const raw = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const vars = plainToInstance(EnvironmentVariables, raw);
  const errors = validateSync(vars, { whitelist: false });
  // One line per distinct message: several constraints of a variable may share one (AUDIT_REDIS_SHARDS).
  const problems = errors.flatMap((error) =>
    [...new Set(Object.values(error.constraints ?? {}))].map((message) =>
      message.startsWith(error.property) ? message : `${error.property}: ${message}`,
    ),
  );
  if (!vars.AUTH_JWT_SECRET && vars.DATABASE_URL && env.NODE_ENV === 'production') {
    problems.push('AUTH_JWT_SECRET is required when NODE_ENV=production');
  }
  const trustedProxies = (vars.AUDIT_TRUSTED_PROXIES ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of trustedProxies) {
    try {
      proxyaddr.compile(entry); // the library that will use them decides what is valid
    } catch {
      problems.push(`AUDIT_TRUSTED_PROXIES: "${entry}" is not an IP, CIDR or loopback/linklocal/uniquelocal`);
    }
  }
  if (vars.AUDIT_DELIVERY === 'redis' && !vars.REDIS_URL && !vars.AUDIT_REDIS_CLUSTER_NODES) {
    problems.push('AUDIT_DELIVERY: "redis" needs REDIS_URL (or AUDIT_REDIS_CLUSTER_NODES)');
  }
  const shardedKey = (vars.AUDIT_REDIS_SHARDS ?? 1) > 1 || vars.AUDIT_REDIS_CLUSTER_NODES;
  if (shardedKey && /[{}]/.test(vars.AUDIT_STREAM_KEY ?? '')) {
    problems.push('AUDIT_STREAM_KEY must not contain { or } with AUDIT_REDIS_SHARDS > 1 or a cluster');
  }
  const hotDays = vars.ARCHIVE_HOT_DAYS ?? 90;
  const warmDays = vars.ARCHIVE_WARM_DAYS ?? 365;
  const retentionDays = vars.ARCHIVE_RETENTION_DAYS ?? 2557;
  if (!(hotDays < warmDays && warmDays < retentionDays)) {
    problems.push(
      `ARCHIVE_HOT_DAYS (${hotDays}) < ARCHIVE_WARM_DAYS (${warmDays}) < ARCHIVE_RETENTION_DAYS (${retentionDays}) must hold`,
    );
  }
  if (!vars.AUDIT_SIGNING_KEY && vars.DATABASE_URL && env.NODE_ENV === 'production') {
    problems.push('AUDIT_SIGNING_KEY is required when NODE_ENV=production');
  }
  if (vars.AUDIT_SIGNING_KEY) {
    try {
      parsePrivateKey(vars.AUDIT_SIGNING_KEY);
    } catch {
      problems.push(
        'AUDIT_SIGNING_KEY must be an Ed25519 private key: a PKCS#8 PEM or a base64 32-byte seed',
      );
    }
  }
  if (
    !vars.AUDIT_PERSONAL_DATA_KEY &&
    vars.DATABASE_URL &&
    env.NODE_ENV === 'production' &&
    vars.AUDIT_PERSONAL_KEYS !== 'off'
  ) {
    problems.push(
      'AUDIT_PERSONAL_DATA_KEY is required when NODE_ENV=production (or set AUDIT_PERSONAL_KEYS=off)',
    );
  }
  if (vars.AUDIT_PERSONAL_DATA_KEY) {
    try {
      parseKek(vars.AUDIT_PERSONAL_DATA_KEY);
    } catch {
      problems.push('AUDIT_PERSONAL_DATA_KEY must be 32 bytes as base64 or 64 hex digits');
    }
  }
  const verifyKeys = (vars.AUDIT_VERIFY_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const key of verifyKeys) {
    try {
      parsePublicKey(key);
    } catch {
      problems.push(`AUDIT_VERIFY_KEYS: "${key.slice(0, 12)}..." is not a base64 32-byte Ed25519 public key`);
    }
  }
  const replicaUrls = (vars.AUDIT_REPLICA_URLS ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  problems.push(...replicaUrlProblems(replicaUrls, 'AUDIT_REPLICA_URLS'));
  const zstdProblem = vars.ARCHIVE_COMPRESSION === 'zstd' ? zstdUnavailable() : null;
  if (zstdProblem) problems.push(`ARCHIVE_COMPRESSION: "zstd" is not available here (${zstdProblem})`);
  const duckDbProblem = vars.ARCHIVE_FORMAT === 'parquet' ? duckDbUnavailable() : null;
  if (duckDbProblem) problems.push(`ARCHIVE_FORMAT: "parquet" is not available here (${duckDbProblem})`);
  if (problems.length > 0) throw new ConfigError(problems);
  const list = (value: string | undefined) => value?.split(',').filter(Boolean);
  const dataDir = vars.DATA_DIR ?? '.data';

  return {
    port: vars.PORT ?? 3000,
    databaseUrl: vars.DATABASE_URL,
    databasePoolMax: vars.DATABASE_POOL_MAX ?? 20,
    dataDir,
    embeddedPgPort: vars.EMBEDDED_PG_PORT ?? 54329,
    redisUrl: vars.REDIS_URL,
    jwtSecret: vars.AUTH_JWT_SECRET ?? DEV_JWT_SECRET,
    jwksUrl: vars.AUTH_JWKS_URL,
    jwtSecretIsDevDefault: !vars.AUTH_JWT_SECRET,
    logLevel: vars.LOG_LEVEL ?? 'log',
    audit: {
      enabled: vars.AUDIT_DISABLED !== 'true',
      delivery: vars.AUDIT_DELIVERY ?? 'memory',
      stream: {
        key: vars.AUDIT_STREAM_KEY ?? 'audit:events',
        consumers: vars.AUDIT_STREAM_CONSUMERS ?? 2,
        maxLength: vars.AUDIT_STREAM_MAX_LENGTH ?? 1_000_000,
        claimIdleMs: vars.AUDIT_CLAIM_IDLE_MS ?? 30_000,
        shards: vars.AUDIT_REDIS_SHARDS ?? 1,
        clusterNodes: list(vars.AUDIT_REDIS_CLUSTER_NODES) ?? null,
      },
      spool:
        vars.AUDIT_SPOOL_DIR === 'off'
          ? null
          : {
              directory: vars.AUDIT_SPOOL_DIR ?? join(dataDir, 'spool'),
              maxBytes: (vars.AUDIT_SPOOL_MAX_MB ?? 1024) * 1024 * 1024,
              fsync: vars.AUDIT_SPOOL_FSYNC ?? 'always',
            },
      overflow: vars.AUDIT_OVERFLOW ?? 'drop',
      overflowBlockMs: vars.AUDIT_OVERFLOW_BLOCK_MS ?? 100,
      criticalActions: list(vars.AUDIT_CRITICAL_ACTIONS) ?? ['delete', 'export', 'erase'],
      criticalEventTypes: list(vars.AUDIT_CRITICAL_EVENT_TYPES) ?? [],
      criticalSeverities: (list(vars.AUDIT_CRITICAL_SEVERITIES) ?? [
        'critical',
      ]) as AppConfig['audit']['criticalSeverities'],
      batchSize: vars.AUDIT_BATCH_SIZE ?? 2000,
      flushIntervalMs: vars.AUDIT_FLUSH_INTERVAL_MS ?? 250,
      maxBuffer: vars.AUDIT_MAX_BUFFER ?? 50000,
      maxBufferBytes: (vars.AUDIT_MAX_BUFFER_MB ?? 32) * 1024 * 1024,
      flushConcurrency: vars.AUDIT_FLUSH_CONCURRENCY ?? 2,
      drainTimeoutMs: vars.AUDIT_DRAIN_TIMEOUT_MS ?? 10000,
      maxStateBytes: vars.AUDIT_MAX_STATE_BYTES ?? 65536,
      trustedProxies,
      partitionPremake: vars.AUDIT_PARTITION_PREMAKE ?? 3,
      readyMaxLagMs: vars.AUDIT_READY_MAX_LAG_MS ?? 60000,
      partitionGranularity: vars.AUDIT_PARTITION_GRANULARITY ?? 'monthly',
      partitionIntervalMs: vars.AUDIT_PARTITION_INTERVAL_MS ?? 60 * 60 * 1000,
      partitionHorizonDays: vars.AUDIT_PARTITION_HORIZON_DAYS ?? 366,
    },
    archive: {
      url: vars.ARCHIVE_URL ?? pathToFileURL(resolve(dataDir, 'archive')).href,
      s3Endpoint: vars.ARCHIVE_S3_ENDPOINT,
      s3ForcePathStyle: vars.ARCHIVE_S3_FORCE_PATH_STYLE === 'true',
      s3Region: vars.ARCHIVE_S3_REGION ?? env.AWS_REGION ?? 'us-east-1',
      hotDays,
      warmDays,
      retentionDays,
      intervalMs: vars.ARCHIVE_INTERVAL_MS ?? 60 * 60 * 1000,
      compression: vars.ARCHIVE_COMPRESSION ?? 'gzip',
      format: vars.ARCHIVE_FORMAT ?? 'ndjson',
      exportStreams: vars.ARCHIVE_EXPORT_STREAMS ?? 2,
      spoolDir: vars.ARCHIVE_SPOOL_DIR ?? tmpdir(),
      warmTablespace: vars.ARCHIVE_WARM_TABLESPACE,
    },
    integrity: {
      signingKey: vars.AUDIT_SIGNING_KEY ?? DEV_SIGNING_KEY,
      signingKeyIsDevDefault: !vars.AUDIT_SIGNING_KEY,
      verifyKeys,
      checkpointIntervalMs: vars.AUDIT_CHECKPOINT_INTERVAL_MS ?? 60 * 60 * 1000,
      headIntervalMs: vars.AUDIT_HEAD_INTERVAL_MS ?? 60 * 1000,
    },
    personalData:
      vars.AUDIT_PERSONAL_KEYS === 'off'
        ? null
        : {
            encryptionKey: parseKek(vars.AUDIT_PERSONAL_DATA_KEY ?? DEV_PERSONAL_DATA_KEY),
            encryptionKeyIsDevDefault: !vars.AUDIT_PERSONAL_DATA_KEY,
            keys: list(vars.AUDIT_PERSONAL_KEYS) ?? DEFAULT_PERSONAL_KEYS,
          },
    query: {
      cacheTtlSeconds: vars.AUDIT_CACHE_TTL_S ?? 15,
      cachePrefix: vars.AUDIT_CACHE_PREFIX ?? 'audit:cache:',
      statsRefreshMs: vars.AUDIT_STATS_REFRESH_MS ?? 5 * 60 * 1000,
    },
    replicas: {
      urls: replicaUrls,
      maxLagMs: vars.AUDIT_REPLICA_MAX_LAG_MS ?? 10_000,
      checkIntervalMs: vars.AUDIT_REPLICA_CHECK_MS ?? 5_000,
    },
  };
}
