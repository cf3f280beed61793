import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { plainToInstance, Transform } from 'class-transformer';
import proxyaddr from 'proxy-addr';
import { parsePrivateKey, parsePublicKey } from '../crypto/ed25519-keys';
import type { AuditTrailConfig } from './audit-config';
import { DEV_PERSONAL_DATA_KEY, DEV_SIGNING_KEY } from './dev-keys';
import { ARCHIVE_COMPRESSIONS, ArchiveCompression, zstdUnavailable } from '../../archive/archive-codec';
import { parseKek } from '../../audit/personal-data/personal-data.cipher';
import { DEFAULT_PERSONAL_KEYS } from '../../audit/personal-data/personal-data.protector';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;

/** Every environment variable the service reads. Defaults live in `loadConfig`. */
export class EnvironmentVariables {
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  PORT?: number;

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgres:// connection URL' })
  DATABASE_URL?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'DATABASE_POOL_MAX must be a whole number' })
  @Min(2, { message: 'DATABASE_POOL_MAX must be at least 2' })
  @Max(1000, { message: 'DATABASE_POOL_MAX must be at most 1000' })
  DATABASE_POOL_MAX?: number;

  @IsOptional()
  @IsString()
  DATA_DIR?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(65535)
  EMBEDDED_PG_PORT?: number;

  @IsOptional()
  @IsUrl(
    { protocols: ['redis', 'rediss'], require_tld: false },
    { message: 'REDIS_URL must be a redis:// URL' },
  )
  REDIS_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'AUTH_JWT_SECRET must be at least 32 characters' })
  AUTH_JWT_SECRET?: string;

  @IsOptional()
  @IsIn(['memory', 'redis'], { message: 'AUDIT_DELIVERY must be "memory" or "redis"' })
  AUDIT_DELIVERY?: 'memory' | 'redis';

  @IsOptional()
  @Matches(/^[A-Za-z0-9:_.{}-]{1,128}$/, {
    message: 'AUDIT_STREAM_KEY must be 1-128 of A-Z a-z 0-9 : _ . - { }',
  })
  AUDIT_STREAM_KEY?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(32)
  AUDIT_STREAM_CONSUMERS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(100000000)
  AUDIT_STREAM_MAX_LENGTH?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(500)
  @Max(3600000)
  AUDIT_CLAIM_IDLE_MS?: number;

  @IsOptional()
  @IsString()
  AUDIT_SPOOL_DIR?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1048576)
  AUDIT_SPOOL_MAX_MB?: number;

  @IsOptional()
  @IsIn(['always', 'never'], { message: 'AUDIT_SPOOL_FSYNC must be "always" or "never"' })
  AUDIT_SPOOL_FSYNC?: 'always' | 'never';

  @IsOptional()
  @IsIn(['drop', 'block'], { message: 'AUDIT_OVERFLOW must be "drop" or "block"' })
  AUDIT_OVERFLOW?: 'drop' | 'block';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10000)
  AUDIT_OVERFLOW_BLOCK_MS?: number;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*$/, {
    message: 'AUDIT_CRITICAL_ACTIONS must be a comma-separated list of actions',
  })
  AUDIT_CRITICAL_ACTIONS?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*$/, {
    message: 'AUDIT_CRITICAL_EVENT_TYPES must be a comma-separated list of event types',
  })
  AUDIT_CRITICAL_EVENT_TYPES?: string;

  @IsOptional()
  @Matches(/^(info|notice|warning|critical)(,(info|notice|warning|critical))*$/, {
    message: 'AUDIT_CRITICAL_SEVERITIES must be a comma-separated list of info, notice, warning, critical',
  })
  AUDIT_CRITICAL_SEVERITIES?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50000)
  AUDIT_BATCH_SIZE?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(60000)
  AUDIT_FLUSH_INTERVAL_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(10000000)
  AUDIT_MAX_BUFFER?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(16)
  AUDIT_FLUSH_CONCURRENCY?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(600000)
  AUDIT_DRAIN_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(16777216)
  AUDIT_MAX_STATE_BYTES?: number;

  @IsOptional()
  @IsString()
  AUDIT_TRUSTED_PROXIES?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(36)
  AUDIT_PARTITION_PREMAKE?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(86400000)
  AUDIT_READY_MAX_LAG_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  AUDIT_CACHE_TTL_S?: number;

  @IsOptional()
  @Matches(/^[A-Za-z0-9:_.-]{1,64}$/, { message: 'AUDIT_CACHE_PREFIX must be 1-64 of A-Z a-z 0-9 : _ . -' })
  AUDIT_CACHE_PREFIX?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(86400000)
  AUDIT_STATS_REFRESH_MS?: number;

  @IsOptional()
  @IsUrl(
    { protocols: ['https', 'http'], require_tld: false },
    { message: 'AUTH_JWKS_URL must be an http(s) URL' },
  )
  AUTH_JWKS_URL?: string;

  @IsOptional()
  @IsIn(['monthly', 'weekly', 'daily'], {
    message: 'AUDIT_PARTITION_GRANULARITY must be "monthly", "weekly" or "daily"',
  })
  AUDIT_PARTITION_GRANULARITY?: 'monthly' | 'weekly' | 'daily';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(86400000)
  AUDIT_PARTITION_INTERVAL_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3660)
  AUDIT_PARTITION_HORIZON_DAYS?: number;

  @IsOptional()
  @Matches(/^(file:\/\/\/.+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?)$/, {
    message: 'ARCHIVE_URL must be file:///absolute/path or s3://bucket[/prefix]',
  })
  ARCHIVE_URL?: string;

  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false },
    { message: 'ARCHIVE_S3_ENDPOINT must be an http(s) URL' },
  )
  ARCHIVE_S3_ENDPOINT?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'ARCHIVE_S3_FORCE_PATH_STYLE must be "true" or "false"' })
  ARCHIVE_S3_FORCE_PATH_STYLE?: 'true' | 'false';

  @IsOptional()
  @Matches(/^[a-z0-9-]{2,32}$/, { message: 'ARCHIVE_S3_REGION must be a region name like us-east-1' })
  ARCHIVE_S3_REGION?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(36500)
  ARCHIVE_HOT_DAYS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(36500)
  ARCHIVE_WARM_DAYS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(36500)
  ARCHIVE_RETENTION_DAYS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(604800000)
  ARCHIVE_INTERVAL_MS?: number;

  @IsOptional()
  @IsIn(ARCHIVE_COMPRESSIONS, { message: 'ARCHIVE_COMPRESSION must be "gzip", "zstd" or "brotli"' })
  ARCHIVE_COMPRESSION?: ArchiveCompression;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(8)
  ARCHIVE_EXPORT_STREAMS?: number;

  @IsOptional()
  @IsString()
  ARCHIVE_SPOOL_DIR?: string;

  @IsOptional()
  @Matches(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: 'ARCHIVE_WARM_TABLESPACE must be a tablespace name' })
  ARCHIVE_WARM_TABLESPACE?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'AUDIT_DISABLED must be "true" or "false"' })
  AUDIT_DISABLED?: 'true' | 'false';

  @IsOptional()
  @IsString()
  AUDIT_SIGNING_KEY?: string;

  @IsOptional()
  @IsString()
  AUDIT_VERIFY_KEYS?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(86400000)
  AUDIT_CHECKPOINT_INTERVAL_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(86400000)
  AUDIT_HEAD_INTERVAL_MS?: number;

  @IsOptional()
  @IsString()
  AUDIT_PERSONAL_DATA_KEY?: string;

  @IsOptional()
  @Matches(/^(off|[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*)$/, {
    message: 'AUDIT_PERSONAL_KEYS must be "off" or a comma-separated list of key names',
  })
  AUDIT_PERSONAL_KEYS?: string;

  @IsOptional()
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL?: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
}

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
    /** Redis Streams delivery (AUDIT_DELIVERY=redis). */
    stream: { key: string; consumers: number; maxLength: number; claimIdleMs: number };
    /** Null when AUDIT_SPOOL_DIR=off: failed batches then wait in memory, bounded by the buffer. */
    spool: { directory: string; maxBytes: number; fsync: 'always' | 'never' } | null;
    overflow: 'drop' | 'block';
    overflowBlockMs: number;
    criticalActions: string[];
    criticalEventTypes: string[];
    criticalSeverities: Array<'info' | 'notice' | 'warning' | 'critical'>;
    batchSize: number;
    flushIntervalMs: number;
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
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const DEV_JWT_SECRET = 'dev-only-secret-change-me-dev-only-secret-change-me';
export { DEV_PERSONAL_DATA_KEY, DEV_SIGNING_KEY } from './dev-keys';

/** Validates the environment once at boot; throws a ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // An empty variable means "unset", as in most deployment tools.
  const raw = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const vars = plainToInstance(EnvironmentVariables, raw);
  const errors = validateSync(vars, { whitelist: false });
  const problems = errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map((message) =>
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
  if (vars.AUDIT_DELIVERY === 'redis' && !vars.REDIS_URL) {
    problems.push('AUDIT_DELIVERY: "redis" needs REDIS_URL');
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
  const zstdProblem = vars.ARCHIVE_COMPRESSION === 'zstd' ? zstdUnavailable() : null;
  if (zstdProblem) problems.push(`ARCHIVE_COMPRESSION: "zstd" is not available here (${zstdProblem})`);
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
  };
}
