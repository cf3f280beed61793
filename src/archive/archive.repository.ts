import { Inject, Injectable } from '@nestjs/common';
import { Pool, PoolClient } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { ArchiveCompression } from './archive-codec';
import { ArchiveFormat } from './archive-format';
import { ManifestColumn } from './archive-manifest';
import { MAINTENANCE_LOCK_KEY, WARM_PARENT } from '../partitions';

export const ARCHIVE_POOL = Symbol('ARCHIVE_POOL');

export type ArchiveState = 'exporting' | 'exported' | 'cold' | 'expired';

export interface ArchiveRecord {
  id: string;
  partitionName: string;
  rangeFrom: Date;
  rangeTo: Date;
  state: ArchiveState;
  storageUrl: string;
  dataKey: string;
  manifestKey: string;
  compression: ArchiveCompression;
  /** `parquet`: `dataKey` is the folder of the Parquet files and `sha256` the digest of their list. */
  format: ArchiveFormat;
  rowCount: number | null;
  byteSize: number | null;
  sha256: string | null;
  tableBytes: number | null;
  createdAt: Date;
  exportedAt: Date | null;
  droppedAt: Date | null;
  expiredAt: Date | null;
}

/** The run's lock connection ended (Postgres restart, network): the run stops before changing anything else. */
export class ArchiveLockLost extends Error {
  constructor() {
    super('the archive lock was lost (its connection ended): this run stops, the next one resumes');
  }
}

/** Held (session level) for a whole archive run: one replica archives at a time. */
const ARCHIVE_LOCK_KEY = 7_331_004;

/**
 * A lock not obtained within lock_timeout (long queries or writes on the table) is no failure: the step is
 * put off to the next run. False in that case.
 */
async function deferOnLockTimeout(work: () => Promise<boolean>): Promise<boolean> {
  try {
    return await work();
  } catch (error) {
    const code =
      (error as { code?: string }).code ?? (error as { driverError?: { code?: string } }).driverError?.code;
    if (code === '55P03') return false; // lock_not_available
    throw error;
  }
}

function toRecord(r: Record<string, unknown>): ArchiveRecord {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: r.id as string,
    partitionName: r.partition_name as string,
    rangeFrom: r.range_from as Date,
    rangeTo: r.range_to as Date,
    state: r.state as ArchiveState,
    storageUrl: r.storage_url as string,
    dataKey: r.data_key as string,
    manifestKey: r.manifest_key as string,
    compression: r.compression as ArchiveCompression,
    format: (r.format ?? 'ndjson') as ArchiveFormat,
    rowCount: num(r.row_count),
    byteSize: num(r.byte_size),
    sha256: r.sha256 as string | null,
    tableBytes: num(r.table_bytes),
    createdAt: r.created_at as Date,
    exportedAt: r.exported_at as Date | null,
    droppedAt: r.dropped_at as Date | null,
    expiredAt: r.expired_at as Date | null,
  };
}

/** SQL of the warm/cold tiers: the archives table, the lock, the warm transition (COPY: ArchiveTransferRepository). */
@Injectable()
export class ArchiveRepository {
  /** Backend pid of the connection holding the archive lock for this process' run, while it runs. */
  private lockHolder: number | null = null;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(ARCHIVE_POOL) private readonly pool: Pool,
  ) {}

  /**
   * Runs `work` holding the archive lock on a dedicated connection; null when another replica holds it.
   * Session level because a run spans many transactions and long COPY streams. The connection sits idle
   * meanwhile: if it dies, the lock is gone and another replica may start a run, so the destructive steps
   * check that it is still held (assertLockHeld) rather than trust that it is.
   */
  async withArchiveLock<T>(work: () => Promise<T>): Promise<T | null> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    try {
      const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS locked', [ARCHIVE_LOCK_KEY]);
      if (!rows[0].locked) return null;
      this.lockHolder = (client as PoolClient & { processID: number }).processID;
      try {
        return await work();
      } finally {
        this.lockHolder = null;
        await client.query('SELECT pg_advisory_unlock($1)', [ARCHIVE_LOCK_KEY]).catch((error: Error) => {
          broken = error;
        });
      }
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * Throws unless this process' run still holds the archive lock (its connection may have died since the
   * run began, and another replica taken the lock). Run inside the transaction of the step it guards.
   */
  async assertLockHeld(manager: EntityManager = this.dataSource.manager): Promise<void> {
    const held = await manager.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1
          AND pid = $2 AND granted`,
      [ARCHIVE_LOCK_KEY, this.lockHolder ?? 0],
    );
    if (held.length === 0) throw new ArchiveLockLost();
  }

  // --- the archives table -------------------------------------------------------------------------------

  async list(): Promise<ArchiveRecord[]> {
    const rows = await this.dataSource.query(`SELECT * FROM audit_archives ORDER BY range_from, created_at`);
    return rows.map(toRecord);
  }

  async get(id: string): Promise<ArchiveRecord | null> {
    const rows = await this.dataSource.query(`SELECT * FROM audit_archives WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Archives started and not finished (a run stopped between export and drop): resumed first. */
  async unfinished(): Promise<ArchiveRecord[]> {
    const rows = await this.dataSource.query(
      `SELECT * FROM audit_archives WHERE state IN ('exporting', 'exported') ORDER BY range_from`,
    );
    return rows.map(toRecord);
  }

  async expirable(cutoff: Date): Promise<ArchiveRecord[]> {
    const rows = await this.dataSource.query(
      `SELECT * FROM audit_archives WHERE state = 'cold' AND range_to <= $1 ORDER BY range_from`,
      [cutoff],
    );
    return rows.map(toRecord);
  }

  /** Registers an archive about to be exported, or returns the unfinished one of the partition. */
  async begin(
    archive: Omit<
      ArchiveRecord,
      | 'state'
      | 'createdAt'
      | 'exportedAt'
      | 'droppedAt'
      | 'expiredAt'
      | 'rowCount'
      | 'byteSize'
      | 'sha256'
      | 'tableBytes'
    >,
  ): Promise<ArchiveRecord> {
    const inserted = await this.dataSource.query(
      `INSERT INTO audit_archives (id, partition_name, range_from, range_to, state, storage_url, data_key, manifest_key, compression, format)
       VALUES ($1, $2, $3, $4, 'exporting', $5, $6, $7, $8, $9)
       ON CONFLICT (partition_name) WHERE state IN ('exporting', 'exported') DO NOTHING RETURNING *`,
      [
        archive.id,
        archive.partitionName,
        archive.rangeFrom,
        archive.rangeTo,
        archive.storageUrl,
        archive.dataKey,
        archive.manifestKey,
        archive.compression,
        archive.format,
      ],
    );
    if (inserted[0]) return toRecord(inserted[0]);
    const [open] = await this.dataSource.query(
      `SELECT * FROM audit_archives WHERE partition_name = $1 AND state IN ('exporting', 'exported')`,
      [archive.partitionName],
    );
    return toRecord(open);
  }

  async markExported(
    id: string,
    file: { rows: number; bytes: number; sha256: string; tableBytes: number },
  ): Promise<void> {
    await this.dataSource.query(
      `UPDATE audit_archives SET state = 'exported', row_count = $2, byte_size = $3, sha256 = $4, table_bytes = $5,
              exported_at = now() WHERE id = $1`,
      [id, file.rows, file.bytes, file.sha256, file.tableBytes],
    );
  }

  /** Back to exporting: the stored copy did not verify, or the table changed since; the next run redoes it. */
  async markExporting(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE audit_archives SET state = 'exporting' WHERE id = $1`, [id]);
  }

  async markCold(id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE audit_archives SET state = 'cold', dropped_at = coalesce(dropped_at, now()) WHERE id = $1`,
      [id],
    );
  }

  async markExpired(id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE audit_archives SET state = 'expired', expired_at = now() WHERE id = $1 AND state = 'cold'`,
      [id],
    );
  }

  /**
   * Drops the archived table and marks the archive cold, in one transaction, only if the table still holds
   * exactly the rows exported: the lock keeps anyone (the DEFAULT clean-up moving late rows into a warm
   * partition) from adding rows between the count and the drop. `changed`: the count differs (export
   * again); `locked`: the table stayed locked past lock_timeout (try again next run).
   */
  async dropIfUnchanged(archive: ArchiveRecord): Promise<'dropped' | 'changed' | 'locked'> {
    let changed = false;
    const dropped = await deferOnLockTimeout(async () => {
      const result = await this.dropLocked(archive);
      changed = !result;
      return result;
    });
    return dropped ? 'dropped' : changed ? 'changed' : 'locked';
  }

  private dropLocked(archive: ArchiveRecord): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SET LOCAL lock_timeout = '10s'`);
      await this.assertLockHeld(manager);
      const sql = async (build: string) => {
        const [{ text }] = await manager.query(build, [archive.partitionName]);
        return manager.query(text);
      };
      await sql(`SELECT format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', $1::text) AS text`);
      const [{ n }] = await sql(`SELECT format('SELECT count(*) AS n FROM %I', $1::text) AS text`);
      if (Number(n) !== archive.rowCount) return false;
      await sql(`SELECT format('DROP TABLE %I', $1::text) AS text`);
      await manager.query(`UPDATE audit_archives SET state = 'cold', dropped_at = now() WHERE id = $1`, [
        archive.id,
      ]);
      return true;
    });
  }

  // --- tables -------------------------------------------------------------------------------------------

  async tableExists(table: string): Promise<boolean> {
    const [{ found }] = await this.dataSource.query(
      `SELECT to_regclass(quote_ident($1)) IS NOT NULL AS found`,
      [table],
    );
    return found;
  }

  /** Columns and types of `table` from the catalog, in order: archives carry whatever the table has. */
  async columns(table: string): Promise<ManifestColumn[]> {
    return this.dataSource.query(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = to_regclass(quote_ident($1)) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    );
  }

  /** heap + TOAST + indexes. */
  async totalBytes(table: string): Promise<number> {
    const [{ bytes }] = await this.dataSource.query(
      `SELECT pg_total_relation_size(to_regclass(quote_ident($1))) AS bytes`,
      [table],
    );
    return Number(bytes);
  }

  // --- hot -> warm --------------------------------------------------------------------------------------

  /**
   * Gives the warm parent every column audit_events has (a later migration may have added some to the hot
   * parent only): ATTACH requires the same columns. Added as nullable: warm data is never written to.
   */
  async syncWarmColumns(): Promise<string[]> {
    const missing: Array<{ name: string; type: string }> = await this.dataSource.query(
      `SELECT h.attname AS name, format_type(h.atttypid, h.atttypmod) AS type FROM pg_attribute h
        WHERE h.attrelid = 'audit_events'::regclass AND h.attnum > 0 AND NOT h.attisdropped
          AND NOT EXISTS (SELECT 1 FROM pg_attribute w WHERE w.attrelid = $1::regclass
                          AND w.attname = h.attname AND NOT w.attisdropped)
        ORDER BY h.attnum`,
      [WARM_PARENT],
    );
    for (const column of missing) {
      const [{ ddl }] = await this.dataSource.query(
        `SELECT format('ALTER TABLE %I ADD COLUMN %I %s', $1::text, $2::text, $3::text) AS ddl`,
        [WARM_PARENT, column.name, column.type],
      );
      await this.dataSource.query(ddl);
    }
    return missing.map((c) => c.name);
  }

  /**
   * A validated CHECK constraint matching the range, added while the partition is still attached: ATTACH
   * to the warm parent then skips its full-table validation scan. VALIDATE takes only a SHARE UPDATE
   * EXCLUSIVE lock (reads and writes go on). Re-runnable.
   */
  addRangeCheck(partition: string, from: Date, to: Date): Promise<boolean> {
    const name = `${partition}_range_check`.slice(0, 63);
    return deferOnLockTimeout(async () => {
      const [{ exists }] = await this.dataSource.query(
        `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(quote_ident($1)) AND conname = $2) AS exists`,
        [partition, name],
      );
      const [{ add, validate }] = await this.dataSource.query(
        `SELECT format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (occurred_at >= %L AND occurred_at < %L) NOT VALID', $1::text, $2::text, $3::timestamptz, $4::timestamptz) AS add,
                format('ALTER TABLE %I VALIDATE CONSTRAINT %I', $1::text, $2::text) AS validate`,
        [partition, name, from.toISOString(), to.toISOString()],
      );
      // Adding takes the table's ACCESS EXCLUSIVE lock for an instant: never queue behind a long reader
      // (every later query on the table would queue behind us).
      if (!exists) await this.withLockTimeout(add);
      await this.withLockTimeout(validate);
      return true;
    });
  }

  private async withLockTimeout(statement: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`SET LOCAL lock_timeout = '5s'`);
      await manager.query(statement);
    });
  }

  /**
   * Detaches a partition from audit_events and attaches it to the warm parent, in one transaction (it is
   * never invisible to the admin API). Plain DETACH: Postgres refuses DETACH ... CONCURRENTLY while the
   * table has a DEFAULT partition; it holds the parent's lock for milliseconds, and lock_timeout bounds the
   * wait behind long queries (the next run retries). Under the maintenance lock so it never races the
   * DEFAULT clean-up or a search-index build; false when that lock is busy.
   */
  moveToWarm(partition: string, from: Date, to: Date): Promise<boolean> {
    return deferOnLockTimeout(() => this.detachToWarm(partition, from, to));
  }

  private detachToWarm(partition: string, from: Date, to: Date): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        MAINTENANCE_LOCK_KEY,
      ]);
      if (!locked) return false;
      await manager.query(`SET LOCAL lock_timeout = '5s'`);
      const [{ detach, attach }] = await manager.query(
        `SELECT format('ALTER TABLE audit_events DETACH PARTITION %I', $1::text) AS detach,
                format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', $2::text, $1::text, $3::timestamptz, $4::timestamptz) AS attach`,
        [partition, WARM_PARENT, from.toISOString(), to.toISOString()],
      );
      await manager.query(detach);
      await manager.query(attach);
      return true;
    });
  }

  /** Moves a warm partition and its indexes to `tablespace` (rewrites them; reads of it wait meanwhile). */
  async moveToTablespace(partition: string, tablespace: string): Promise<void> {
    const statements: Array<{ ddl: string }> = await this.dataSource.query(
      `SELECT format('ALTER TABLE %I SET TABLESPACE %I', $1::text, $2::text) AS ddl
       UNION ALL
       SELECT format('ALTER INDEX %I SET TABLESPACE %I', ic.relname, $2::text) FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = to_regclass(quote_ident($1))`,
      [partition, tablespace],
    );
    for (const { ddl } of statements) await this.dataSource.query(ddl);
  }

  async dropTable(table: string): Promise<void> {
    const [{ ddl }] = await this.dataSource.query(
      `SELECT format('DROP TABLE IF EXISTS %I', $1::text) AS ddl`,
      [table],
    );
    await this.dataSource.query(ddl);
  }
}
