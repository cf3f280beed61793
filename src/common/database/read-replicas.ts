import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { AUDIT_CONFIG, AuditTrailConfig } from '../config/audit-config';
import { replicaPoolFor } from './pg-pool';
import { lsnBytes, WalPositionHistory } from './replica-lag';
import { replicaName } from './replica-url';
import { describeError } from './safe-query.logger';

/** `starting`: not measured yet; `lagging`: further behind than `maxLagMs`; `down`: did not answer. */
export type ReplicaState = 'starting' | 'up' | 'lagging' | 'down';

export interface ReplicaStatus {
  /** `host:port/database`: never the credentials. */
  name: string;
  state: ReplicaState;
  /** Estimated staleness at the last check (0 when it had replayed all the primary had written). */
  lagMs: number | null;
  /** WAL bytes the primary had written and the replica had not replayed, at the last check. */
  lagBytes: number | null;
  /** Reads it served. */
  reads: number;
  /** Why it serves nothing (a Node error code or SQLSTATE, or the lag), when it does not. */
  problem?: string;
}

/** Why a read went to the primary although replicas are configured. */
export type FallbackReason = 'down' | 'lagging' | 'failed';

interface Replica extends ReplicaStatus {
  pool: Pool;
}

/** Errors that say "this server cannot answer now", not "this query is wrong": the read is retried on the primary. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: the replica is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, not yet consistent
  '53300', // too_many_connections
  '40001', // on a standby: statement cancelled by a conflict with recovery
]);
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|not queryable/i;

export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  return error instanceof Error && UNAVAILABLE_MESSAGES.test(error.message);
}

/**
 * Where the admin API's reads run: on a streaming replica when one is up and close enough behind, else on the
 * primary (the app's DataSource), without the caller seeing the difference.
 *
 * Why our own pg pools and not TypeORM replication (`replication: { master, slaves }`): the DataSource is the
 * app's, and switching it to replication moves the app's own `find()` calls to the replicas too; TypeORM picks
 * a slave at random with no health check, lag bound or fallback (a stopped replica fails the query); and the
 * reads here are raw SQL and COPY streams anyway. So each replica gets a small pg Pool on the app's connection
 * options, and this class decides per read.
 *
 * Every `checkIntervalMs` each replica is measured (see WalPositionHistory for how lag is computed) and its
 * state set: `up`, `lagging` (beyond `maxLagMs`) or `down` (no answer). A read that fails on a replica for
 * an availability reason (refused, reset, timeout, shutdown) marks it down and runs on the primary; the next
 * check is the retry. Reads go round-robin over the replicas that are up.
 */
@Injectable()
export class ReadReplicas implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReadReplicas.name);
  private readonly replicas: Replica[];
  private readonly history: WalPositionHistory;
  private readonly fallbacks: Record<FallbackReason, number> = { down: 0, lagging: 0, failed: 0 };
  private next = 0;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {
    const { urls, poolMax, connectTimeoutMs, maxLagMs } = config.replicas;
    this.history = new WalPositionHistory(Math.max(60_000, maxLagMs * 3));
    this.replicas = urls.map((url) => ({
      name: replicaName(url) ?? 'replica',
      state: 'starting',
      lagMs: null,
      lagBytes: null,
      reads: 0,
      pool: replicaPoolFor(dataSource, url, {
        max: poolMax,
        connectTimeoutMs,
        applicationName: 'nest-audit-trail:replica-read',
      }),
    }));
  }

  /** True when replicas are configured. */
  get configured(): boolean {
    return this.replicas.length > 0;
  }

  /** Each replica's state at the last check or read. */
  status(): ReplicaStatus[] {
    return this.replicas.map(({ pool: _pool, ...status }) => ({ ...status }));
  }

  /** Reads that went to the primary although replicas are configured, by reason. */
  fallbackCounts(): Record<FallbackReason, number> {
    return { ...this.fallbacks };
  }

  /**
   * An admin read: on a replica when one is up, else (or when it fails to answer) on the primary.
   * `primaryWhenEmpty`: a lookup that finds nothing on the replica asks the primary too, so an event just
   * written is found even before the replica has replayed it (read your own event).
   */
  async query<T = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    options: { primaryWhenEmpty?: boolean } = {},
  ): Promise<T[]> {
    const replica = this.pick();
    if (replica) {
      try {
        const result = await replica.pool.query(sql, params);
        replica.reads++;
        if (!(options.primaryWhenEmpty && result.rows.length === 0)) return result.rows as T[];
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        this.markDown(replica, error);
        this.fallbacks.failed++;
      }
    }
    return this.dataSource.query(sql, params);
  }

  /**
   * A connection for a long read (the export's COPY) on a replica that is up, else from `primary`. Only the
   * connection falls back: a replica that stops in the middle of an export fails that export.
   */
  async connect(primary: Pool): Promise<PoolClient> {
    const replica = this.pick();
    if (replica) {
      try {
        const client = await replica.pool.connect();
        replica.reads++;
        return client;
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        this.markDown(replica, error);
        this.fallbacks.failed++;
      }
    }
    return primary.connect();
  }

  /** Measures every replica now (what the timer does every `checkIntervalMs`). */
  check(): Promise<void> {
    this.checking ??= this.measure().finally(() => (this.checking = undefined));
    return this.checking;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.configured) return;
    this.timer = setInterval(() => void this.check(), this.config.replicas.checkIntervalMs);
    this.timer.unref();
    // Reads start on the primary; the replicas join once measured (not awaited: boot does not wait for them).
    void this.check();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await Promise.all(this.replicas.map((r) => r.pool.end().catch(() => undefined)));
  }

  private pick(): Replica | null {
    if (this.replicas.length === 0) return null;
    for (let i = 0; i < this.replicas.length; i++) {
      const replica = this.replicas[(this.next + i) % this.replicas.length];
      if (replica.state === 'up') {
        this.next = (this.next + i + 1) % this.replicas.length;
        return replica;
      }
    }
    this.fallbacks[this.replicas.some((r) => r.state === 'lagging') ? 'lagging' : 'down']++;
    return null;
  }

  private markDown(replica: Replica, error: unknown): void {
    if (replica.state !== 'down') {
      this.logger.warn(`Replica ${replica.name} is down (${describeError(error)}): reads go to the primary`);
    }
    replica.state = 'down';
    replica.problem = errorCode(error);
  }

  private async measure(): Promise<void> {
    const at = Date.now();
    try {
      // Before the replicas: a replica can only be as fresh as the primary was at this moment.
      const [row] = await this.dataSource.query('SELECT pg_current_wal_lsn()::text AS lsn');
      this.history.add(at, lsnBytes(row.lsn));
    } catch {
      // The primary is unreachable, or is itself a standby: lag falls back to the replay timestamp.
    }
    await Promise.all(this.replicas.map((replica) => this.measureOne(replica)));
  }

  private async measureOne(replica: Replica): Promise<void> {
    const { maxLagMs, connectTimeoutMs } = this.config.replicas;
    try {
      const { rows } = await withTimeout(
        replica.pool.query<{ standby: boolean; replayed: string | null; since_ms: number | null }>(
          `SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed,
                  (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS since_ms`,
        ),
        connectTimeoutMs * 2,
      );
      const [row] = rows;
      // A server that is not a standby (promoted, or the primary itself) is as fresh as it gets.
      const lag =
        row.standby && row.replayed
          ? this.history.lag({
              at: Date.now(),
              replayed: lsnBytes(row.replayed),
              sinceLastReplayMs: row.since_ms,
            })
          : { bytes: 0, ms: 0 };
      replica.lagMs = lag.ms;
      replica.lagBytes = lag.bytes;
      const lagging = lag.ms !== null && lag.ms > maxLagMs;
      const state: ReplicaState = lagging ? 'lagging' : 'up';
      if (state !== replica.state && replica.state !== 'starting') {
        this.logger.log(`Replica ${replica.name} is ${state}${lagging ? ` (${lag.ms} ms behind)` : ''}`);
      }
      replica.state = state;
      replica.problem = lagging ? `${lag.ms} ms behind, limit ${maxLagMs} ms` : undefined;
    } catch (error) {
      this.markDown(replica, error);
      replica.lagMs = null;
      replica.lagBytes = null;
    }
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code) return code;
  return error instanceof Error && /timeout/i.test(error.message) ? 'timeout' : 'unavailable';
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('replica check timed out'), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
