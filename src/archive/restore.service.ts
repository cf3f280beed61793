import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { decompressor } from './archive-codec';
import { checksumStored } from './archive-export';
import { ArchiveManifest, manifestSha256, parseManifest } from './archive-manifest';
import { ParquetRestore } from './parquet/parquet-restore';
import { ArchiveRecord, ArchiveRepository } from './archive.repository';
import { ArchiveTransferRepository } from './archive-transfer.repository';
import { LineMeter, Sha256Meter } from './archive-stream';
import { ArchiveError, ArchiveErrorCode } from './archive.errors';
import { ArchiveService } from './archive.service';
import { ARCHIVE_STORAGE } from './archive.tokens';
import { ArchiveObjectNotFound, ArchiveStorage, getText } from './storage/archive-storage';
import { LifecycleRunRepository } from '../partitions';

export const RESTORE_JOB = 'restore';

export interface RestoreResult {
  archiveId: string;
  partition: string;
  /** The table holding the restored rows, for the investigation (drop it when done). */
  table: string;
  rows: number;
  sha256: string;
  /** True: the archive was verified only (checksum, size, rows), nothing was loaded. */
  dryRun: boolean;
}

/**
 * Loads a cold archive into a table of its own for an investigation. The stored file is checked first
 * (SHA-256, size, rows against the manifest AND the archives table, so a file and manifest replaced
 * together are refused too); the bytes are hashed again while loading and the load is rolled back if they
 * changed in between. The bytes as stored are hashed before anything is decompressed: a replaced file is
 * refused before a decoder sees it (a crafted zstd frame header can make a decoder allocate gigabytes).
 */
@Injectable()
export class RestoreService {
  private readonly logger = new Logger(RestoreService.name);

  constructor(
    private readonly archives: ArchiveRepository,
    private readonly transfer: ArchiveTransferRepository,
    private readonly archiveService: ArchiveService,
    private readonly runs: LifecycleRunRepository,
    @Inject(ARCHIVE_STORAGE) private readonly storage: ArchiveStorage,
    private readonly parquet: ParquetRestore,
  ) {}

  /** `dryRun`: verify the archive (manifest, checksum, size, rows) and stop there. */
  async restore(
    id: string,
    onProgress?: (rows: number, total: number) => void,
    dryRun = false,
  ): Promise<RestoreResult> {
    const archive = await this.archives.get(id);
    if (!archive) throw new ArchiveError(ArchiveErrorCode.NotFound, `archive ${id} not found`);
    if (archive.state !== 'cold' && archive.state !== 'exported')
      throw new ArchiveError(
        ArchiveErrorCode.NotRestorable,
        `archive ${id} is ${archive.state}, not restorable`,
      );
    if (archive.storageUrl !== this.storage.url)
      throw new ArchiveError(
        ArchiveErrorCode.NotRestorable,
        `archive ${id} is stored under another ARCHIVE_URL than the configured one`,
      );
    const result = await this.runs.recorded(RESTORE_JOB, dryRun, async () => {
      const manifest = await this.checkedManifest(archive);
      if (archive.format === 'parquet') {
        const table = restoredTableName(archive);
        const rows = await this.parquet.restore(archive, manifest, table, dryRun, onProgress);
        if (!dryRun) this.logger.log(`Archive ${id} restored into ${table} (${rows} rows)`);
        return {
          archiveId: id,
          partition: archive.partitionName,
          table,
          sha256: archive.sha256!,
          rows,
          dryRun,
        };
      }
      const stored = await this.measure(archive);
      if (
        stored.sha256 !== archive.sha256 ||
        stored.bytes !== archive.byteSize ||
        stored.rows !== archive.rowCount
      )
        throw new ArchiveError(
          ArchiveErrorCode.Tampered,
          `archive ${id}: the stored file does not match its checksum; refused`,
        );
      const table = restoredTableName(archive);
      const verified = { archiveId: id, partition: archive.partitionName, table, sha256: stored.sha256 };
      if (dryRun) return { ...verified, rows: stored.rows, dryRun };
      await this.archives.dropTable(table);
      const rows = await this.load(archive, manifest, table, onProgress);
      this.logger.log(`Archive ${id} restored into ${table} (${rows} rows)`);
      return { ...verified, rows, dryRun };
    });
    return result!;
  }

  /**
   * The stored file's checksum, size and rows. The bytes as stored are checked before they are decoded; a
   * missing or undecodable file is refused like a mismatching one.
   */
  private async measure(archive: ArchiveRecord) {
    try {
      const asStored = await checksumStored(this.storage, archive.dataKey);
      if (asStored.sha256 === archive.sha256 && asStored.bytes === archive.byteSize)
        return await this.archiveService.measure(archive);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (error instanceof ArchiveObjectNotFound || code.startsWith('Z_'))
        throw new ArchiveError(
          ArchiveErrorCode.Tampered,
          `archive ${archive.id}: the stored file is missing or corrupt (its checksum cannot match); refused`,
        );
      throw error;
    }
    throw new ArchiveError(
      ArchiveErrorCode.Tampered,
      `archive ${archive.id}: the stored file does not match its checksum; refused`,
    );
  }

  private async checkedManifest(archive: ArchiveRecord): Promise<ArchiveManifest> {
    let manifest: ArchiveManifest;
    try {
      manifest = parseManifest(await getText(this.storage, archive.manifestKey));
    } catch (error) {
      throw new ArchiveError(
        ArchiveErrorCode.Tampered,
        `archive ${archive.id}: ${(error as Error).message}; refused`,
      );
    }
    if (
      manifest.archiveId !== archive.id ||
      manifestSha256(manifest) !== archive.sha256 ||
      manifest.rowCount !== archive.rowCount ||
      (archive.format === 'parquet') !== (manifest.rowEncoding === 'parquet') ||
      (manifest.parquet && manifest.parquet.root !== archive.dataKey)
    )
      throw new ArchiveError(
        ArchiveErrorCode.Tampered,
        `archive ${archive.id}: the manifest does not match the archive record; refused`,
      );
    return manifest;
  }

  /** COPY FROM in one transaction; rolled back if the bytes read differ from the verified ones. */
  private async load(
    archive: ArchiveRecord,
    manifest: ArchiveManifest,
    table: string,
    onProgress?: (rows: number, total: number) => void,
  ): Promise<number> {
    const client = await this.transfer.connect();
    let failure: Error | undefined;
    try {
      await client.query('BEGIN');
      const copy = await this.transfer.prepareRestore(client, table, manifest.columns);
      const sha = new Sha256Meter();
      const lines = new LineMeter();
      const timer = onProgress && setInterval(() => onProgress(lines.lines, archive.rowCount ?? 0), 200);
      try {
        await pipeline(
          (await this.storage.download(archive.dataKey)) as Readable,
          sha,
          decompressor(archive.compression),
          lines,
          copy,
        );
      } finally {
        if (timer) clearInterval(timer);
      }
      if (sha.sha256 !== archive.sha256) {
        throw new ArchiveError(
          ArchiveErrorCode.Tampered,
          `archive ${archive.id}: the file changed while it was restored; refused`,
        );
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

/** `audit_restored_p2025_01_0193a1b2`: the partition and the archive it came from, at a glance. */
export function restoredTableName(archive: ArchiveRecord): string {
  return `audit_restored_${archive.partitionName.replace(/^audit_events_/, '')}_${archive.id.slice(0, 8)}`;
}
