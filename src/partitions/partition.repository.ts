import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PartitionRange } from './partition-naming';

/**
 * Fixed key: every replica takes the same lock, so one runs maintenance at a time. Partition creation and
 * index builds share it: CREATE TABLE ... PARTITION OF locks the DEFAULT partition that a concurrent
 * CREATE INDEX CONCURRENTLY would be waiting on (a deadlock otherwise). Detaching a partition (archival)
 * takes it too.
 */
export const MAINTENANCE_LOCK_KEY = 7_331_002;

export const SEARCH_INDEX_SUFFIX = '_search_idx';
export const HOT_PARENT = 'audit_events';
export const WARM_PARENT = 'audit_events_warm';
export const DEFAULT_PARTITION = 'audit_events_default';

export type Queryable = EntityManager | DataSource;

export interface PartitionInfo {
  name: string;
  /** Range of the partition; null for the DEFAULT partition. */
  from: Date | null;
  to: Date | null;
  hasSearchIndex: boolean;
}

export type RangedPartition = PartitionInfo & { from: Date; to: Date };

/** The partitions with a range (all but DEFAULT). */
export function ranged(list: PartitionInfo[]): RangedPartition[] {
  return list.filter((p): p is RangedPartition => p.from !== null && p.to !== null);
}

export interface PartitionStats extends PartitionInfo {
  parent: string;
  /** Planner estimate (pg_class.reltuples); -1 when the table was never analyzed. */
  estimatedRows: number;
  bytes: number;
}

/** Rows of the DEFAULT partition grouped by the partition range (UTC) they belong to. */
export interface DefaultBucket {
  start: Date;
  rows: number;
}

const TRUNC_UNIT = { monthly: 'month', weekly: 'week', daily: 'day' } as const;

/** `FOR VALUES FROM ('...') TO ('...')` -> dates; both null for DEFAULT. */
function parseBound(bound: string): { from: Date | null; to: Date | null } {
  const range = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(bound);
  return range ? { from: new Date(range[1]), to: new Date(range[2]) } : { from: null, to: null };
}

@Injectable()
export class PartitionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Runs `work` holding a transaction-scoped advisory lock; returns null when another replica holds it. */
  async withMaintenanceLock<T>(work: (manager: EntityManager) => Promise<T>): Promise<T | null> {
    return this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        MAINTENANCE_LOCK_KEY,
      ]);
      return locked ? work(manager) : null;
    });
  }

  async existing(manager: EntityManager): Promise<Set<string>> {
    return new Set((await this.partitions(manager)).map((p) => p.name));
  }

  /** Every partition of `parent` (hot by default) with its range and whether it has its search index. */
  async partitions(manager: Queryable = this.dataSource, parent = HOT_PARENT): Promise<PartitionInfo[]> {
    return (await this.stats(manager, parent)).map(({ name, from, to, hasSearchIndex }) => ({
      name,
      from,
      to,
      hasSearchIndex,
    }));
  }

  /** Partitions of `parent` with size and estimated rows, read from the catalog only (cheap at any size). */
  async stats(manager: Queryable = this.dataSource, parent = HOT_PARENT): Promise<PartitionStats[]> {
    const rows: Array<{
      name: string;
      bound: string;
      has_search_index: boolean;
      estimated_rows: number;
      bytes: string;
    }> = await manager.query(
      `SELECT c.relname AS name,
              pg_get_expr(c.relpartbound, c.oid) AS bound,
              EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                       WHERE i.indrelid = c.oid AND ic.relname = c.relname || $1) AS has_search_index,
              c.reltuples::float8 AS estimated_rows,
              pg_total_relation_size(c.oid) AS bytes
         FROM pg_inherits inh
         JOIN pg_class c ON c.oid = inh.inhrelid
        WHERE inh.inhparent = to_regclass(quote_ident($2))
        ORDER BY c.relname`,
      [SEARCH_INDEX_SUFFIX, parent],
    );
    return rows.map((r) => ({
      name: r.name,
      parent,
      ...parseBound(r.bound),
      hasSearchIndex: r.has_search_index,
      estimatedRows: Math.round(r.estimated_rows),
      bytes: Number(r.bytes),
    }));
  }

  /** Exact row count of one table (the DEFAULT partition, a table about to be archived). */
  async countRows(table: string, manager: Queryable = this.dataSource): Promise<number> {
    const [{ sql }] = await manager.query(`SELECT format('SELECT count(*) AS n FROM %I', $1::text) AS sql`, [
      table,
    ]);
    const [{ n }] = await manager.query(sql);
    return Number(n);
  }

  /** Identifiers and bounds are quoted by Postgres itself (format %I / %L), never concatenated. */
  async create(manager: EntityManager, range: PartitionRange): Promise<void> {
    const [{ ddl }] = await manager.query(
      `SELECT format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)', $1::text, $2::timestamptz, $3::timestamptz) AS ddl`,
      [range.name, range.from.toISOString(), range.to.toISOString()],
    );
    await manager.query(ddl);
    await this.guardTruncate(manager, range.name);
  }

  /**
   * TRUNCATE of one partition is refused like TRUNCATE of the parent (migration 1795390000070): the
   * parent's statement trigger is not cloned to partitions. Skipped where the trigger exists already, or
   * where the append-only function does not (an older schema).
   */
  private async guardTruncate(manager: EntityManager, partition: string): Promise<void> {
    const rows: Array<{ ddl: string }> = await manager.query(
      `SELECT format('CREATE TRIGGER audit_partition_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()', $1::text) AS ddl
        WHERE to_regprocedure('audit_append_only()') IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(quote_ident($1))
                                                     AND tgname = 'audit_partition_no_truncate')`,
      [partition],
    );
    for (const { ddl } of rows) await manager.query(ddl);
  }

  /** DEFAULT's rows below `horizon`, grouped by the partition range they belong to. */
  async defaultBuckets(
    manager: Queryable,
    granularity: keyof typeof TRUNC_UNIT,
    horizon: Date,
  ): Promise<DefaultBucket[]> {
    const rows: Array<{ start: Date; rows: string }> = await manager.query(
      `SELECT date_trunc($1, occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start, count(*) AS rows
         FROM audit_events_default WHERE occurred_at < $2 GROUP BY 1 ORDER BY 1`,
      [TRUNC_UNIT[granularity], horizon.toISOString()],
    );
    return rows.map((r) => ({ start: new Date(r.start), rows: Number(r.rows) }));
  }

  /** Rows of DEFAULT at or after `horizon`: kept there, never given a partition, reported. */
  async countBeyondHorizon(horizon: Date, manager: Queryable = this.dataSource): Promise<number> {
    const [{ n }] = await manager.query(
      `SELECT count(*) AS n FROM audit_events_default WHERE occurred_at >= $1`,
      [horizon.toISOString()],
    );
    return Number(n);
  }

  /**
   * Moves DEFAULT's rows of `range` into a new partition: a plain table is filled first (DELETE ...
   * RETURNING from DEFAULT), then attached. CREATE TABLE ... PARTITION OF would fail here, since DEFAULT
   * still holds rows of the range when it checks. One transaction (the caller's): the rows are in exactly
   * one place whatever happens. Columns are read from the catalog, so added columns move too.
   */
  async moveDefaultIntoNewPartition(manager: EntityManager, range: PartitionRange): Promise<number> {
    await this.allowLifecycleChanges(manager);
    await this.ddl(
      manager,
      `SELECT format('CREATE TABLE %I (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', $1::text) AS ddl`,
      [range.name],
    );
    const moved = await this.moveDefaultRows(manager, range, range.name);
    await this.ddl(
      manager,
      `SELECT format('ALTER TABLE audit_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', $1::text, $2::timestamptz, $3::timestamptz) AS ddl`,
      [range.name, range.from.toISOString(), range.to.toISOString()],
    );
    await this.guardTruncate(manager, range.name);
    return moved;
  }

  /** Moves DEFAULT's rows of `range` into `target` (a table, or the warm parent which routes them). */
  async moveDefaultRows(manager: EntityManager, range: PartitionRange, target: string): Promise<number> {
    await this.allowLifecycleChanges(manager);
    const columns = await this.columnList(manager, HOT_PARENT);
    const [{ sql }] = await manager.query(
      `SELECT format('WITH moved AS (DELETE FROM audit_events_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING %s), inserted AS (INSERT INTO %I (%s) SELECT %s FROM moved RETURNING 1) SELECT count(*) AS n FROM inserted', $1::timestamptz, $2::timestamptz, $3::text, $4::text, $3::text, $3::text) AS sql`,
      [range.from.toISOString(), range.to.toISOString(), columns, target],
    );
    const [{ n }] = await manager.query(sql);
    return Number(n);
  }

  /**
   * Rows of audit_events may only be changed by the lifecycle: the append-only trigger (integrity) lets a
   * transaction through once it has said so. Harmless where that trigger does not exist.
   */
  private async allowLifecycleChanges(manager: EntityManager): Promise<void> {
    await manager.query(`SELECT set_config('audit.lifecycle', 'on', true)`);
  }

  /** `"id", "occurred_at", ...` of `table`, in column order, from the catalog. */
  async columnList(manager: Queryable, table: string): Promise<string> {
    const [{ columns }] = await manager.query(
      `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS columns FROM pg_attribute
        WHERE attrelid = to_regclass(quote_ident($1)) AND attnum > 0 AND NOT attisdropped`,
      [table],
    );
    return columns as string;
  }

  private async ddl(manager: EntityManager, build: string, params: unknown[]): Promise<void> {
    const [{ ddl }] = await manager.query(build, params);
    await manager.query(ddl);
  }

  /**
   * Builds the full-text index of one partition without blocking its writers (CONCURRENTLY, so outside any
   * transaction), under a session advisory lock so two replicas never build the same one. False when
   * another replica holds the lock.
   */
  async createSearchIndex(partition: string): Promise<boolean> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        MAINTENANCE_LOCK_KEY,
      ]);
      if (!locked) return false;
      try {
        const [{ ddl }] = await runner.query(
          `SELECT format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %I USING gin (audit_search_vector(event_type, resource_type, resource_id, before, after))', $1::text, $2::text) AS ddl`,
          [`${partition}${SEARCH_INDEX_SUFFIX}`, partition],
        );
        await runner.query(ddl);
        return true;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  }
}
