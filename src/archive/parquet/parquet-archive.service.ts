import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ArchiveManifest,
  buildManifest,
  ManifestColumn,
  manifestBytes,
  manifestSha256,
  parseManifest,
} from '../archive-manifest';
import { ArchiveRecord } from '../archive.repository';
import { ArchiveTransferRepository } from '../archive-transfer.repository';
import { StoredFile } from '../archive-export';
import { ARCHIVE_INTEGRITY, ARCHIVE_STORAGE, ArchiveIntegrity } from '../archive.tokens';
import { ArchiveStorage, getText, putText } from '../storage/archive-storage';
import { AUDIT_CONFIG, AuditTrailConfig } from '../../common/config/audit-config';
import { WARM_PARENT } from '../../partitions';
import { openDuckDb, requireDuckDb } from './duckdb';
import { exportParquet } from './parquet-export';
import { fetchParquetFiles, parquetRowCounts } from './parquet-read';

/**
 * The Parquet side of ArchiveService (ARCHIVE_FORMAT=parquet): export, read-back verification, and the keys
 * to delete at expiry. An archive is a folder of files (one per organization and month) listed in its
 * manifest; the archives table records the digest of that list (`filesDigest`) as the archive's sha256, the
 * sum of the files' sizes as its bytes.
 */
@Injectable()
export class ParquetArchiveService {
  private readonly logger = new Logger(ParquetArchiveService.name);

  constructor(
    private readonly transfer: ArchiveTransferRepository,
    @Inject(ARCHIVE_STORAGE) private readonly storage: ArchiveStorage,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
    @Inject(ARCHIVE_INTEGRITY) private readonly integrity: ArchiveIntegrity,
  ) {
    // archive: { format: 'parquet' } in module options (the environment is checked by loadConfig).
    if (config.archive.format === 'parquet') requireDuckDb();
  }

  /** Writes the files and the sealed manifest; returns what the archives table records. */
  async export(
    archive: ArchiveRecord,
    columns: ManifestColumn[],
    tableBytes: number,
    onUploaded?: () => Promise<void>,
  ): Promise<StoredFile> {
    const exported = await exportParquet(
      this.transfer,
      archive.partitionName,
      columns,
      this.storage,
      archive.dataKey,
      { streams: this.config.archive.exportStreams, spoolDir: this.config.archive.spoolDir },
    );
    await onUploaded?.();
    // The integrity section is taken while the table still exists (its events' seals, a checkpoint).
    const manifest = await this.integrity.seal(
      buildManifest({
        archiveId: archive.id,
        parent: WARM_PARENT,
        partition: archive.partitionName,
        from: archive.rangeFrom,
        to: archive.rangeTo,
        columns,
        // Rows stay in the order Postgres read them (resource order), not re-sorted: no order is promised.
        rowOrder: [],
        parquet: { root: archive.dataKey, columns: exported.columns, files: exported.files },
        tableBytes,
        createdAt: new Date(),
      }),
    );
    await putText(this.storage, archive.manifestKey, `${JSON.stringify(manifest, null, 2)}\n`);
    return { rows: manifest.rowCount, bytes: manifestBytes(manifest), sha256: manifestSha256(manifest) };
  }

  /**
   * Every file read back (SHA-256 and size against the manifest) and its rows counted by DuckDB from its
   * footer; the manifest's file list must be the one the archives table recorded. False on any difference.
   */
  async verify(archive: ArchiveRecord): Promise<boolean> {
    const dir = await mkdtemp(join(this.config.archive.spoolDir, 'audit-archive-verify-'));
    try {
      const manifest = parseManifest(await getText(this.storage, archive.manifestKey));
      if (
        !manifest.parquet ||
        manifestSha256(manifest) !== archive.sha256 ||
        manifest.rowCount !== archive.rowCount ||
        manifestBytes(manifest) !== archive.byteSize
      )
        return false;
      const paths = await fetchParquetFiles(this.storage, manifest, dir);
      const duck = await openDuckDb(dir);
      try {
        const counts = await parquetRowCounts(duck, paths);
        return counts.every((rows, i) => rows === manifest.files[i].rows);
      } finally {
        duck.close();
      }
    } catch (error) {
      this.logger.warn(`Verification of archive ${archive.id} failed: ${(error as Error).message}`);
      return false;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The keys of the archive's files (from its manifest: the store is never listed); null when unreadable. */
  async fileKeys(archive: ArchiveRecord): Promise<string[] | null> {
    const manifest = await this.manifest(archive);
    return manifest && manifest.parquet?.root === archive.dataKey ? manifest.files.map((f) => f.key) : null;
  }

  private async manifest(archive: ArchiveRecord): Promise<ArchiveManifest | null> {
    try {
      return parseManifest(await getText(this.storage, archive.manifestKey));
    } catch (error) {
      this.logger.warn(`Manifest of archive ${archive.id} unreadable: ${(error as Error).message}`);
      return null;
    }
  }
}
