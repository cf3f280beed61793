import type { Type } from '@nestjs/common';

import type { JsonValue } from '../common/serialization/safe-serialize';
import type { AuditReasonOptions } from './reason';

export type { JsonValue };

/** `database`: a write seen in the WAL that no application request claimed (`wal` capture mode). */
export type ActorType = 'user' | 'service' | 'system' | 'anonymous' | 'database';
export type AuditStatus = 'success' | 'failure';
export type AuditSeverity = 'info' | 'notice' | 'warning' | 'critical';
/** Built-in actions; any other lowercase word (`login`, `export`...) is a custom action. */
export type AuditAction = 'create' | 'read' | 'list' | 'update' | 'delete' | (string & {});

export interface AuditActor {
  id: string | null;
  type: ActorType;
  organizationId: string | null;
}

/** One field that changed between the before and after states. */
export interface FieldChange {
  /** Dotted path, e.g. `plan` or `address.city`. */
  path: string;
  before: JsonValue | undefined;
  after: JsonValue | undefined;
  /** True when the field is redacted: it changed, but neither value is stored. */
  redacted?: boolean;
  /**
   * A list or relationship: the members that joined and left it (scalars), or, for a collection of
   * objects with an `id`, the ids that joined and left (then `before`/`after` are not repeated).
   */
  added?: JsonValue[];
  removed?: JsonValue[];
}

/** An event as it is stored: already redacted and serialized, ready for COPY. */
export interface AuditEvent {
  id: string;
  occurredAt: Date;
  organizationId: string | null;
  actorId: string | null;
  actorType: ActorType;
  action: AuditAction;
  eventType: string;
  resourceType: string | null;
  resourceId: string | null;
  before: JsonValue | null;
  after: JsonValue | null;
  changes: FieldChange[] | null;
  status: AuditStatus;
  statusCode: number | null;
  errorMessage: string | null;
  severity: AuditSeverity;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  route: string | null;
  method: string | null;
  durationMs: number | null;
  metadata: { [key: string]: JsonValue } | null;
}

/** Input of `AuditService.record()`: for events that are not HTTP requests (jobs, logins, system actions). */
export interface RecordAuditEventInput {
  action: AuditAction;
  /** Defaults to `${resourceType}.${action}` (or `action` alone without a resource type). */
  eventType?: string;
  actor?: Partial<AuditActor>;
  resourceType?: string;
  resourceId?: string | number;
  /** States are redacted, serialized and size-capped like those captured over HTTP. */
  before?: unknown;
  after?: unknown;
  status?: AuditStatus;
  errorMessage?: string;
  severity?: AuditSeverity;
  requestId?: string;
  ip?: string;
  userAgent?: string;
  metadata?: Record<string, unknown>;
  occurredAt?: Date;
  /** Extra paths to redact for this event, on top of the global list. */
  redact?: string[];
  /**
   * Why (stored as `metadata.reason`, trimmed, cut at 500 characters). Default: the reason of the enclosing
   * `AuditService.withReason()`, if any.
   */
  reason?: string;
}

/**
 * Input of `AuditService.recordBulk()`: one event for a change of many rows whose per-row states are not
 * available (a query-builder `update()`, raw SQL, request-mode capture). Event type
 * `${resourceType}.bulk-${action}`, no resource id; `metadata.affectedIds` (the first 1000, as text) and
 * `metadata.affectedCount` (all of them).
 */
export interface RecordBulkAuditEventInput extends Omit<
  RecordAuditEventInput,
  'resourceType' | 'resourceId' | 'before' | 'after' | 'eventType'
> {
  resourceType: string;
  ids: ReadonlyArray<string | number>;
}

/** Loads the current state of a resource, for the before state of a mutation. */
export interface AuditStateLoader {
  load(resourceId: string, context: { organizationId: string | null }): Promise<unknown>;
}

/**
 * Options of `@Audited()`. Every option has a default that fits a standard CRUD controller:
 * `@Audited()` alone on `AccountsController` audits resource type `account`, takes the id from the `:id`
 * route param (or the created object's `id`) and loads the before state from the `Account` entity.
 */
export interface AuditedOptions {
  /** Resource type recorded on events. Default: the controller name without `Controller`, singular. */
  resourceType?: string;
  /** Route param that holds the resource id. Default `id`. */
  idParam?: string;
  /** Property of the handler's result holding the id of a created resource. Default `id`. */
  responseIdPath?: string;
  /**
   * How to load the before state of a mutation: a TypeORM entity class, or a provider class implementing
   * `AuditStateLoader`. Default: the TypeORM entity whose name matches the resource type, if any.
   */
  entity?: Type<unknown> | string;
  loader?: Type<AuditStateLoader>;
  /** Extra paths to redact (dotted, `*` matches one level), on top of the global list. */
  redact?: string[];
  /** Fields whose changes never count for this controller or handler, added to the module's (see there). */
  ignoredFields?: string[];
  /** Record GET requests as access events (`read`/`list`). Default true. */
  reads?: boolean;
  /** Override the action (default from the HTTP method: POST create, PUT/PATCH update, DELETE delete). */
  action?: AuditAction;
  /** Override the event type (default `${resourceType}.${action}`). */
  eventType?: string;
  severity?: AuditSeverity;
  /** Record updates that change nothing (as action `update` with no changes). Default false. */
  recordNoOps?: boolean;
  /**
   * `request` (default): the before state is read just before the handler runs (not locked). The after state
   * is what the handler returns; for an update of an entity-backed resource, each of its fields that is a
   * column takes the value the handler's TypeORM `save()` committed (the row read by primary key inside that
   * transaction, right after its UPDATE: one query per update), so the after state is the row as this update
   * left it, even where a concurrent update changed a column this one did not write. What remains inexact:
   * - the before state: an update committed between the read and this handler's write shows in this event's
   *   diff too (two concurrent updates may record the same before state);
   * - writes the watch cannot see: a query-builder `update()`, raw SQL, a `save()` of another row or with
   *   `transaction: false` (read after the commit, not under its lock): the after state is then the result
   *   as returned, whose unwritten fields may be stale;
   * - only the fields the result reports are recorded (a column left out of the response is left out of
   *   the after state and the diff), and the result is matched to its write by the values it reports, so
   *   a concurrent write of the same values may stand in for it (the row as that write left it).
   * Use `transactional` where the trail must be exact.
   * `transactional`: mutations are captured by a TypeORM subscriber inside the write transaction (row locked
   * with SELECT ... FOR UPDATE, after state re-read, audit row INSERTed in the same transaction): the exact
   * committed before/after, atomic with the change. Only writes made with TypeORM `save`/`remove` are seen.
   * `wal`: the row changes come from Postgres' logical decoding (`AuditWalModule`): the request only puts
   * its context into the transactions it commits through TypeORM (no extra round trip); the exact committed
   * before/after of every row, under any concurrency, is built by the slot consumer off the request path.
   */
  consistency?: 'request' | 'transactional' | 'wal';
  /**
   * Where the before state of an update/delete comes from (`consistency: 'request'`, entity-backed resources).
   * `load` (default): one primary-key read just before the handler runs. `handler`: the row as the handler
   * itself loads it through TypeORM (`find*`, or the load `save()`/`remove()` makes), so no extra query;
   * only for handlers that load or save the row through TypeORM before changing it (a query-builder
   * `update()`/`delete()` or raw SQL without a load first must keep `load`).
   */
  beforeState?: 'load' | 'handler';
  /**
   * When this route's event cannot be accepted (buffer or stream past its high-water mark, Redis and the
   * spool both unavailable): `accept` (default) answers normally and counts the loss; `fail` answers 503.
   * With `fail`, a full pipeline is also checked before the handler runs, so no change is made unaudited.
   */
  onUndelivered?: UndeliveredPolicy;
  /**
   * The reason of a mutation (stored as `metadata.reason`): the `X-Audit-Reason` header by default (every
   * audited mutation reads it), another `header`, or a `bodyField`; `required: true` refuses a mutation
   * without one (400 naming the header or field) before the handler runs.
   */
  reason?: AuditReasonOptions;
}

/** Options of `AuditModule.forRoot()` / `forRootAsync()`. */
export interface AuditModuleOptions {
  /** Turns HTTP capture off entirely (benchmarks, local experiments). Default true. */
  enabled?: boolean;
  /** Events per COPY batch. Default 2000. */
  batchSize?: number;
  /** Flush at least this often, even if the batch is not full. Default 250 ms. */
  flushIntervalMs?: number;
  /** The bounded buffer: beyond this many pending events, new non-critical events are dropped (counted). */
  maxBuffer?: number;
  /**
   * The buffer's bound in memory: past this many bytes (estimated from each event's COPY line) held by
   * events waiting or being written, new non-critical events follow `overflow` like past `maxBuffer`.
   * Default 32 MiB; at least 1 MiB.
   */
  maxBufferBytes?: number;
  /** Parallel COPY streams. Default 2. */
  flushConcurrency?: number;
  /** How long shutdown waits for the buffer to drain. Default 10 s. */
  drainTimeoutMs?: number;
  /** Size cap for one serialized state; larger states are replaced by a truncation marker. Default 64 KiB. */
  maxStateBytes?: number;
  /** Key names redacted wherever they appear (case-insensitive). Replaces the default list when set. */
  redactKeys?: string[];
  /** Extra key names redacted everywhere, added to the default list. */
  extraRedactKeys?: string[];
  /**
   * Fields whose changes never make an update count (noise): a key name matches at any depth, a dotted path
   * (`lines.*.syncedAt`) that path. The states keep them. Default `DEFAULT_IGNORED_FIELDS` (`updatedAt`,
   * `updated_at`, `version`); `[]` turns it off.
   */
  ignoredFields?: string[];
  /** More ignored fields for one resource type (`{ account: ['lastSeenAt'] }`), added to `ignoredFields`. */
  ignoredFieldsByResource?: Record<string, string[]>;
  /** Proxies whose X-Forwarded-For is believed (IPs, CIDRs or `loopback`). Default none. */
  trustedProxies?: string[];
  /** Cap on the ids recorded for a list read. Default 100. */
  maxListIds?: number;
  /** Actions whose events are critical: never dropped (durable or synchronous path). Default delete, export, erase. */
  criticalActions?: string[];
  /** Event types (e.g. `account.delete`) whose events are critical. Default none. */
  criticalEventTypes?: string[];
  /** Severities whose events are critical. Default `critical`. */
  criticalSeverities?: AuditSeverity[];
  /**
   * Past the high-water mark, a non-critical event is dropped at once (`drop`, counted), or the request
   * waits up to `overflowBlockMs` for room first (`block`). Default `drop`.
   */
  overflow?: 'drop' | 'block';
  /** How long `overflow: 'block'` waits for room before dropping. Default 100 ms. */
  overflowBlockMs?: number;
  /**
   * Where events wait while Postgres (or Redis) is unavailable: a local spool of append-only segment files.
   * `false` turns it off (failed batches then wait in memory, bounded by `maxBuffer`). Default: on, under
   * `.data/spool`.
   */
  spool?: false | { directory?: string; maxBytes?: number; fsync?: 'always' | 'never' };
  /**
   * `memory` (default): events are buffered in the process and flushed by it; a crash loses what is
   * unflushed (counted). `redis`: each event is appended to a Redis stream before the response is sent,
   * and consumer-group workers flush the stream to Postgres; nothing acknowledged is lost.
   */
  delivery?: 'memory' | 'redis';
  /**
   * A `record()` event dated further ahead than this is stored at server time (its own time kept in
   * `metadata.originalOccurredAt`) and counted. Default 366 days (the partition horizon).
   */
  futureHorizonMs?: number;
  /** Redis Streams delivery settings (required for `delivery: 'redis'`). */
  redis?: AuditRedisOptions;
  /**
   * Personal data protection (GDPR crypto-shredding): values of personal keys and the client IP are stored
   * encrypted with a per-subject key, which `PersonalDataService.erase()` destroys. On by default: the key
   * is `encryptionKey` or the `AUDIT_PERSONAL_DATA_KEY` environment variable; without either, a built-in
   * development key is used outside production (with a loud warning) and start-up fails in production.
   * `false` stores personal data in clear (and turns erasure off).
   */
  personalData?: AuditPersonalDataOptions | false;
  /** Partition lifecycle (the jobs module and the health indicators read it). */
  partitions?: AuditPartitionOptions;
  /** Hot -> warm -> cold -> expired tiers and the archive store. */
  archive?: AuditArchiveOptions;
  /** Hash chains and signed checkpoints. */
  integrity?: AuditIntegrityOptions;
  /** The admin API's query cache and stats views. */
  query?: AuditQueryOptions;
  /** Readiness fails when the oldest uncommitted event has been held longer than this. Default 60 s. */
  readyMaxLagMs?: number;
  /**
   * Streaming replicas for the admin API's reads (search, history, activity, as-of, stats, export); writes,
   * chain maintenance, partition DDL, verification, erasure and revert stay on the app's DataSource.
   */
  replicas?: AuditReplicaOptions;
}

export interface AuditReplicaOptions {
  /** `postgres://` URLs of the replicas (credentials included), tried in turn. Env: AUDIT_REPLICA_URLS. */
  urls: string[];
  /** A replica further behind than this serves nothing until it catches up. Default 10 s. */
  maxLagMs?: number;
  /** How often lag is measured and a replica that failed is tried again. Default 5 s. */
  checkIntervalMs?: number;
  /** A replica that does not accept a connection within this is taken as down. Default 2 s. */
  connectTimeoutMs?: number;
  /** Connections per replica (reads and exports). Default 8. */
  poolMax?: number;
}

export interface AuditPartitionOptions {
  /** Partitions kept ahead of the current one. Default 3. */
  premake?: number;
  /** Default `monthly`. */
  granularity?: 'monthly' | 'weekly' | 'daily';
  /** How often maintenance runs (it also runs at boot). Default 1 h. */
  intervalMs?: number;
  /** Events later than now + this many days never get a partition (they stay in DEFAULT, counted). Default 366. */
  horizonDays?: number;
}

export interface AuditArchiveOptions {
  /** `file:///absolute/path` or `s3://bucket/prefix`. Default `file://<cwd>/.data/archive`. */
  url?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  s3Region?: string;
  /** A partition whose range ended this long ago is detached (hot -> warm). Default 90. */
  hotDays?: number;
  /** ... exported, verified and dropped (warm -> cold). Default 365. */
  warmDays?: number;
  /** ... and its archive deleted (cold -> expired). Default 2557 (7 years). */
  retentionDays?: number;
  /** How often the archive job runs. Default 1 h. */
  intervalMs?: number;
  /** Default `gzip`; `zstd` needs the optional `@mongodb-js/zstd`. */
  compression?: 'gzip' | 'zstd' | 'brotli';
  /**
   * Default `ndjson` (compressed JSON arrays, `compression` applies). `parquet`: typed Parquet files (zstd),
   * one per organization and month in a Hive layout, queryable with DuckDB; needs the optional
   * `@duckdb/node-api`.
   */
  format?: 'ndjson' | 'parquet';
  /** Connections reading one partition at once during an export (1-8). Default 2. */
  exportStreams?: number;
  /** Where an export's later slices wait. Default the OS temporary directory. */
  spoolDir?: string;
  /** Move warm partitions to this tablespace. */
  warmTablespace?: string;
}

export interface AuditIntegrityOptions {
  /**
   * Ed25519 private key signing checkpoints (PKCS#8 PEM or base64 32-byte seed). Default the
   * `AUDIT_SIGNING_KEY` environment variable; without it, a development key outside production (warns) and
   * a start-up error in production.
   */
  signingKey?: string;
  /** Base64 public keys of earlier signing keys, so their checkpoints still verify after a rotation. */
  verifyKeys?: string[];
  /** How often every organization's chain head is signed. Default 1 h. */
  checkpointIntervalMs?: number;
  /**
   * How often every chain head that moved is signed and written to the archive store (outside the
   * database), so that a deleted tail of a chain is seen by verification. Default 1 min.
   */
  headIntervalMs?: number;
}

export interface AuditQueryOptions {
  /** Redis for the admin API's cache of stats and first pages; unset: no cache. */
  redisUrl?: string;
  /** Cache TTL; 0 turns the cache off. Default 15. */
  cacheTtlSeconds?: number;
  /** Default `audit:cache:`. */
  cachePrefix?: string;
  /** How often the stats views are refreshed. Default 5 min. */
  statsRefreshMs?: number;
  /** HMAC key of the opaque page cursors (the same on every replica). Default: derived from the signing key. */
  cursorSecret?: string;
}

export interface AuditPersonalDataOptions {
  /** Key-encryption key wrapping the subject keys: 32 bytes (or base64 / 64 hex digits of them). */
  encryptionKey?: Buffer | string;
  /**
   * Keys whose values are personal, at any depth, as key patterns (no case or separators; `word` the whole
   * key, `word*` anywhere in it, `~word` a whole word of it: `~ip` matches `clientIp`, not `zip`). Replaces
   * the defaults, `DEFAULT_PERSONAL_KEYS` (emails, phones, person names, client IPs).
   */
  keys?: string[];
  /** Personal keys added to `keys` (or to the defaults): `['customerName*', 'dateOfBirth']`. */
  extraKeys?: string[];
  /** How long a process encrypts a subject's events with one key before making a new one. Default 10 min. */
  keyTtlMs?: number;
}

export interface AuditRedisOptions {
  /** A single Redis (`redis://...`); required unless `cluster` is given. */
  url?: string;
  /**
   * Seed nodes of a Redis Cluster (`['redis://10.0.0.1:6379', ...]`): the stream's keys are then hash-tagged
   * (`{streamKey:i}`), one slot per shard. Unset: `url`.
   */
  cluster?: string[];
  /**
   * Shards of the stream (1-64): an organization's events always go to the same shard (a hash of its id),
   * so its order is kept; more shards spread the write path over a cluster's masters. Every consumer process
   * reads every shard. Default 1: one stream `streamKey` (on a single Redis, the name of earlier releases).
   */
  shards?: number;
  /** Stream key; the dead-letter stream is `${streamKey}:dead`. Default `audit:events`. */
  streamKey?: string;
  /** Consumer group name. Default `audit-writers`. */
  group?: string;
  /** Consumers (flush workers) in this process; 0 makes it a producer only (workers run as `npm run worker`). Default 2. */
  consumers?: number;
  /** Entries held by a consumer for this long without acknowledgment are reclaimed by another. Default 30 s. */
  claimIdleMs?: number;
  /** High-water mark of the stream: past it, non-critical events follow the `overflow` policy. Default 1 000 000. */
  maxStreamLength?: number;
}

/** Per-route delivery policy of `@Audited({ onUndelivered })`. */
export type UndeliveredPolicy = 'accept' | 'fail';
