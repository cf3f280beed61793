import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import { ArchiveManifest } from '../archive-manifest';
import { ArchiveRecord, ArchiveRepository } from '../archive.repository';
import { ArchiveTransferRepository } from '../archive-transfer.repository';
import { LineMeter } from '../archive-stream';
import { ArchiveError, ArchiveErrorCode } from '../archive.errors';
import { ARCHIVE_STORAGE } from '../archive.tokens';
import { ArchiveObjectNotFound, ArchiveStorage } from '../storage/archive-storage';
import { AUDIT_CONFIG, AuditTrailConfig } from '../../common/config/audit-config';
import { openDuckDb } from './duckdb';
import { fetchParquetFiles, ParquetFileMismatch, parquetLines, parquetRowCounts } from './parquet-read';

/**
 * Restore of a Parquet archive (RestoreService, after the manifest was matched with the archives table):
 * every file is downloaded and its SHA-256 and size matched with the manifest before DuckDB opens it, rows
 * counted from the footers; then DuckDB renders the rows as the NDJSON archive's JSON arrays and they go
 * through the same COPY and jsonb_populate_record as an NDJSON restore, in one transaction.
 */
@Injectable()
export class ParquetRestore {
  constructor(
    private readonly archives: ArchiveRepository,
    private readonly transfer: ArchiveTransferRepository,
    @Inject(ARCHIVE_STORAGE) private readonly storage: ArchiveStorage,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  /** Verifies, then (unless `dryRun`) loads into `table`; the rows verified or loaded. */
  async restore(
    archive: ArchiveRecord,
    manifest: ArchiveManifest,
    table: string,
    dryRun: boolean,
    onProgress?: (rows: number, total: number) => void,
  ): Promise<number> {
    const dir = await mkdtemp(join(this.config.archive.spoolDir, 'audit-archive-restore-'));
    try {
      const paths = await this.verifiedFiles(archive, manifest, dir);
      if (dryRun) return manifest.rowCount;
      await this.archives.dropTable(table);
      return await this.load(archive, manifest, paths, table, dir, onProgress);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async verifiedFiles(archive: ArchiveRecord, manifest: ArchiveManifest, dir: string) {
    let paths: string[];
    try {
      paths = await fetchParquetFiles(this.storage, manifest, dir);
    } catch (error) {
      if (error instanceof ParquetFileMismatch || error instanceof ArchiveObjectNotFound)
        throw new ArchiveError(
          ArchiveErrorCode.Tampered,
          `archive ${archive.id}: a stored Parquet file is missing or does not match its checksum; refused`,
        );
      throw error;
    }
    const duck = await openDuckDb(dir);
    try {
      const counts = await parquetRowCounts(duck, paths);
      if (counts.some((rows, i) => rows !== manifest.files[i].rows))
        throw new ArchiveError(
          ArchiveErrorCode.Tampered,
          `archive ${archive.id}: a Parquet file holds another number of rows than its manifest; refused`,
        );
    } finally {
      duck.close();
    }
    return paths;
  }

  private async load(
    archive: ArchiveRecord,
    manifest: ArchiveManifest,
    paths: string[],
    table: string,
    dir: string,
    onProgress?: (rows: number, total: number) => void,
  ): Promise<number> {
    const client = await this.transfer.connect();
    let failure: Error | undefined;
    try {
      await client.query('BEGIN');
      const copy = await this.transfer.prepareRestore(client, table, manifest.columns);
      const lines = new LineMeter();
      const timer = onProgress && setInterval(() => onProgress(lines.lines, manifest.rowCount), 200);
      try {
        await pipeline(Readable.from(parquetLines(paths, manifest.columns, dir)), lines, copy);
      } finally {
        if (timer) clearInterval(timer);
      }
      const rows = await this.transfer.finishRestore(client, table, manifest.columns);
      if (rows !== archive.rowCount)
        throw new Error(`restored ${rows} rows, the archive holds ${archive.rowCount}`);
      await client.query('COMMIT');
      onProgress?.(rows, rows);
      return rows;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollback: Error) => (failure = rollback));
      throw error;
    } finally {
      client.release(failure);
    }
  }
}
