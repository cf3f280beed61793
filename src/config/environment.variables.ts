import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, MinLength } from 'class-validator';
import { ARCHIVE_COMPRESSIONS, ARCHIVE_FORMATS, ArchiveCompression, ArchiveFormat } from '../archive';

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
  @IsInt({ message: 'AUDIT_REDIS_SHARDS must be an integer from 1 to 64' })
  @Min(1, { message: 'AUDIT_REDIS_SHARDS must be an integer from 1 to 64' })
  @Max(64, { message: 'AUDIT_REDIS_SHARDS must be an integer from 1 to 64' })
  AUDIT_REDIS_SHARDS?: number;

  @IsOptional()
  @Matches(/^rediss?:\/\/[^/,\s]+(,rediss?:\/\/[^/,\s]+)*$/, {
    message: 'AUDIT_REDIS_CLUSTER_NODES must be comma-separated redis://host:port URLs',
  })
  AUDIT_REDIS_CLUSTER_NODES?: string;

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
  @Max(65536)
  AUDIT_MAX_BUFFER_MB?: number;

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
  @IsIn(ARCHIVE_FORMATS, { message: 'ARCHIVE_FORMAT must be "ndjson" or "parquet"' })
  ARCHIVE_FORMAT?: ArchiveFormat;

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
  // A key name, `name*` (contained anywhere) or `~name` (a whole word of the key), as in the redaction list.
  @Matches(/^(off|~?[A-Za-z0-9_-]+\*?(,~?[A-Za-z0-9_-]+\*?)*)$/, {
    message:
      'AUDIT_PERSONAL_KEYS must be "off" or a comma-separated list of key names (name, name* or ~name)',
  })
  AUDIT_PERSONAL_KEYS?: string;

  @IsOptional()
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL?: 'error' | 'warn' | 'log' | 'debug' | 'verbose';

  /** Comma-separated postgres:// URLs of streaming replicas for the admin reads (checked in loadConfig). */
  @IsOptional()
  @IsString()
  AUDIT_REPLICA_URLS?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(86400000)
  AUDIT_REPLICA_MAX_LAG_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3600000)
  AUDIT_REPLICA_CHECK_MS?: number;
}
