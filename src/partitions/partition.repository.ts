import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PartitionRange } from 'src/partitions/partition-naming';

/** Fixed key: every replica takes the same lock, so one runs partition maintenance at a time. */
const MAINTENANCE_LOCK_KEY = 7_331_002;

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
    const rows: { name: string }[] = await manager.query(
      `SELECT c.relname AS name
         FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'audit_events'`,
    );
    return new Set(rows.map((r) => r.name));
  }

  /** Identifiers and bounds are quoted by Postgres itself (format %I / %L), never concatenated. */
  async create(manager: EntityManager, range: PartitionRange): Promise<void> {
    const [{ ddl }] = await manager.query(
      `SELECT format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)', $1::text, $2::timestamptz, $3::timestamptz) AS ddl`,
      [range.name, range.from.toISOString(), range.to.toISOString()],
    );
    await manager.query(ddl);
  }
}
