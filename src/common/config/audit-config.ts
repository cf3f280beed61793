/** Injection token of the resolved AuditTrailConfig (registered globally by `AuditModule.forRoot()`). */
export const AUDIT_CONFIG = Symbol('AUDIT_CONFIG');

export type ArchiveCompressionName = 'gzip' | 'zstd' | 'brotli';

/**
 * What the admin API, the jobs and the health indicators read: the settings of the whole trail, resolved
 * once from `AuditModule.forRoot()` options (every field has its default filled in).
 */
export interface AuditTrailConfig {
  /** Redis of the admin API's query cache; unset: no cache. */
  redisUrl?: string;
  audit: {
    maxBuffer: number;
    /** Readiness fails when the oldest event not yet committed has waited longer than this. */
    readyMaxLagMs: number;
    partitionPremake: number;
    partitionGranularity: 'monthly' | 'weekly' | 'daily';
    /** How often partition maintenance runs (it also runs at boot). */
    partitionIntervalMs: number;
    /**
     * Events later than now + this many days are never given a partition: they stay in DEFAULT, counted,
     * so a bogus far-future timestamp cannot make the job create thousands of partitions.
     */
    partitionHorizonDays: number;
  };
  archive: {
    /** `file:///path` or `s3://bucket/prefix`. */
    url: string;
    s3Endpoint?: string;
    s3ForcePathStyle: boolean;
    s3Region: string;
    /** Partitions whose range ended more than this many days ago are detached (hot -> warm). */
    hotDays: number;
    /** ... exported to the archive and dropped (warm -> cold). */
    warmDays: number;
    /** ... and their archives deleted (cold -> expired). */
    retentionDays: number;
    intervalMs: number;
    /** Compression of the archive files (the manifest says which). */
    compression: ArchiveCompressionName;
    /** `ndjson` (compressed JSON arrays) or `parquet` (typed Parquet files per organization and month). */
    format: 'ndjson' | 'parquet';
    /**
     * Connections that read one partition's rows at the same time during an export, each a consecutive
     * slice in one snapshot, compressed on its own (gzip and zstd only: brotli streams do not concatenate).
     */
    exportStreams: number;
    /** Where an export's slices after the first wait, compressed, until their turn. */
    spoolDir: string;
    /** Warm partitions are moved to this tablespace when set. */
    warmTablespace?: string;
  };
  integrity: {
    /** Ed25519 private key (PEM or base64 seed) that signs checkpoints. */
    signingKey: string;
    /** True when no signing key was configured and the development key is in use (warns loudly). */
    signingKeyIsDevDefault: boolean;
    /** Public keys of earlier signing keys, so their checkpoints still verify after a rotation. */
    verifyKeys: string[];
    checkpointIntervalMs: number;
    /** How often chain heads that moved are signed and published to the archive store (tail evidence). */
    headIntervalMs: number;
  };
  query: {
    /** Redis cache TTL for stats and first pages; 0 disables the cache. */
    cacheTtlSeconds: number;
    cachePrefix: string;
    statsRefreshMs: number;
  };
  /** HMAC key of the admin API's opaque cursors. */
  cursorSecret: string;
  /** Streaming replicas for the admin reads (`urls` empty: every read on the primary). */
  replicas: {
    urls: string[];
    maxLagMs: number;
    checkIntervalMs: number;
    connectTimeoutMs: number;
    poolMax: number;
  };
}
