import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PartitionRange } from 'src/partitions/partition-naming';

/**
 * Fixed key: every replica takes the same lock, so one runs maintenance at a time. Partition creation and
 * index builds share it: CREATE TABLE ... PARTITION OF locks the DEFAULT partition that a concurrent
 * CREATE INDEX CONCURRENTLY would be waiting on (a deadlock otherwise).
 */
const MAINTENANCE_LOCK_KEY = 7_331_002;

export const SEARCH_INDEX_SUFFIX = '_search_idx';

export interface PartitionInfo {
  name: string;
  /** Upper bound of the range; null for the DEFAULT partition. */
  to: Date | null;
  hasSearchIndex: boolean;
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

  /** Every partition of audit_events with its upper bound and whether it has its search index. */
  async partitions(manager: EntityManager | DataSource = this.dataSource): Promise<PartitionInfo[]> {
    const rows: Array<{ name: string; bound: string; has_search_index: boolean }> = await manager.query(
      `SELECT c.relname AS name,
              pg_get_expr(c.relpartbound, c.oid) AS bound,
              EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                       WHERE i.indrelid = c.oid AND ic.relname = c.relname || $1) AS has_search_index
         FROM pg_inherits inh
         JOIN pg_class c ON c.oid = inh.inhrelid
         JOIN pg_class p ON p.oid = inh.inhparent
        WHERE p.relname = 'audit_events'`,
      [SEARCH_INDEX_SUFFIX],
    );
    return rows.map((r) => {
      const upper = /TO \('([^']+)'\)/.exec(r.bound);
      return { name: r.name, to: upper ? new Date(upper[1]) : null, hasSearchIndex: r.has_search_index };
    });
  }

  /** Identifiers and bounds are quoted by Postgres itself (format %I / %L), never concatenated. */
  async create(manager: EntityManager, range: PartitionRange): Promise<void> {
    const [{ ddl }] = await manager.query(
      `SELECT format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)', $1::text, $2::timestamptz, $3::timestamptz) AS ddl`,
      [range.name, range.from.toISOString(), range.to.toISOString()],
    );
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
