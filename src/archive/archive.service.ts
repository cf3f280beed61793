import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { buildManifest, parseManifest } from './archive-manifest';
import { ArchiveRecord, ArchiveRepository } from './archive.repository';
import { ARCHIVE_ROW_ORDER, ArchiveTransferRepository } from './archive-transfer.repository';
import { extensionOf } from './archive-codec';
import { exportTable, measureStored, StoredFile, sweepStaleSpools } from './archive-export';
import { ARCHIVE_INTEGRITY, ARCHIVE_STORAGE, ArchiveIntegrity } from './archive.tokens';
import { ArchiveStorage, getText, putText } from './storage/archive-storage';
import { ParquetArchiveService } from './parquet/parquet-archive.service';
import { Clock } from '../common/clock/clock';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { LifecycleRunRepository } from '../partitions';
import { DEFAULT_PARTITION, PartitionInfo, PartitionRepository, WARM_PARENT } from '../partitions';

const DAY_MS = 86_400_000;
export const ARCHIVE_JOB = 'archive';

/** What an archive run did (or, dry, would do). */
export interface ArchiveReport {
  dryRun: boolean;
  now: string;
  /** hot -> warm: detached from audit_events, attached to audit_events_warm. */
  warmed: string[];
  /** warm -> cold: exported, verified, dropped. `resumed`: an earlier run had stopped midway. */
  archived: Array<{
    partition: string;
    archiveId: string | null;
    rows: number | null;
    bytes: number | null;
    resumed: boolean;
  }>;
  /** cold -> expired: archive objects deleted. */
  expired: Array<{ partition: string; archiveId: string }>;
  /** Steps put off to the next run (a lock was busy, the table changed under the export...). */
  deferred: Array<{ partition: string; reason: string }>;
}

/** Where the run is between steps; tests stop a run at one of these to play a crash. */
export type ArchiveCheckpoint = 'export-started' | 'uploaded' | 'exported' | 'verified';

/**
 * The lifecycle of closed partitions, on one replica at a time (session advisory lock):
 * hot -> warm (detach after ARCHIVE_HOT_DAYS), warm -> cold (export, verify, drop after ARCHIVE_WARM_DAYS),
 * cold -> expired (delete the archive after ARCHIVE_RETENTION_DAYS).
 *
 * Crash safety: the archive row is written before anything is uploaded, its state moves exporting ->
 * exported (data and manifest stored) -> cold (table dropped, in the same transaction as the state change).
 * A run that stops anywhere leaves a state the next run resumes: re-export (same keys, overwritten), or
 * re-verify and drop. Nothing is dropped before the stored copy was read back and matched.
 */
@Injectable()
export class ArchiveService {
  private readonly logger = new Logger(ArchiveService.name);

  constructor(
    private readonly archives: ArchiveRepository,
    private readonly transfer: ArchiveTransferRepository,
    private readonly partitions: PartitionRepository,
    private readonly runs: LifecycleRunRepository,
    private readonly clock: Clock,
    @Inject(ARCHIVE_STORAGE) private readonly storage: ArchiveStorage,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
    @Inject(ARCHIVE_INTEGRITY) private readonly integrity: ArchiveIntegrity,
    private readonly parquet: ParquetArchiveService,
  ) {}

  /** One archive run; null when another replica holds the lock. */
  run(
    dryRun = false,
    onProgress?: (done: number, total: number, step: string) => void,
  ): Promise<ArchiveReport | null> {
    return this.runs.recorded(ARCHIVE_JOB, dryRun, () =>
      this.archives.withArchiveLock(() => this.runLocked(dryRun, onProgress)),
    );
  }

  private async runLocked(
    dryRun: boolean,
    onProgress?: (done: number, total: number, step: string) => void,
  ): Promise<ArchiveReport> {
    const now = this.clock.now();
    const { hotDays, warmDays, retentionDays } = this.config.archive;
    const before = (days: number) => new Date(now.getTime() - days * DAY_MS);
    const report: ArchiveReport = {
      dryRun,
      now: now.toISOString(),
      warmed: [],
      archived: [],
      expired: [],
      deferred: [],
    };

    const ended = (list: PartitionInfo[], cutoff: Date) =>
      list.filter((p) => p.name !== DEFAULT_PARTITION && p.to !== null && p.to <= cutoff);
    const toWarm = ended(await this.partitions.partitions(), before(hotDays));
    const unfinished = await this.archives.unfinished();
    const warm = await this.partitions.partitions(undefined, WARM_PARENT);
    // Partitions warmed in this run may already be old enough to go cold (a back-dated month).
    const toCold = ended([...warm, ...toWarm], before(warmDays)).filter(
      (p) => !unfinished.some((a) => a.partitionName === p.name),
    );
    const toExpire = await this.archives.expirable(before(retentionDays));

    if (dryRun) {
      report.warmed = toWarm.map((p) => p.name);
      report.archived = [
        ...unfinished.map((a) => ({
          partition: a.partitionName,
          archiveId: a.id,
          rows: a.rowCount,
          bytes: a.byteSize,
          resumed: true,
        })),
        ...toCold.map((p) => ({
          partition: p.name,
          archiveId: null,
          rows: null,
          bytes: null,
          resumed: false,
        })),
      ];
      report.expired = toExpire.map((a) => ({ partition: a.partitionName, archiveId: a.id }));
      return report;
    }

    const total = toWarm.length + unfinished.length + toCold.length + toExpire.length;
    let done = 0;
    const step = (name: string) => onProgress?.(++done, total, name);

    // Also before an export: the integrity section reads event hashes from the warm parent.
    if (toWarm.length + unfinished.length + toCold.length > 0) await this.archives.syncWarmColumns();
    // Before exporting: spools that exports of killed processes left behind.
    if (unfinished.length + toCold.length > 0)
      for (const spool of await sweepStaleSpools(this.config.archive.spoolDir))
        this.logger.warn(`Removed ${spool}, the export spool of a process stopped mid-export`);
    for (const partition of toWarm) {
      if (await this.warm(partition)) report.warmed.push(partition.name);
      else
        report.deferred.push({ partition: partition.name, reason: 'maintenance lock or a table lock busy' });
      step(`warm ${partition.name}`);
    }
    for (const archive of unfinished) {
      await this.finish(archive, true, report);
      step(`archive ${archive.partitionName}`);
    }
    for (const partition of toCold) {
      if (report.deferred.some((d) => d.partition === partition.name)) continue;
      const archive = await this.archives.begin(this.newArchive(partition));
      await this.finish(archive, false, report);
      step(`archive ${partition.name}`);
    }
    for (const archive of toExpire) {
      if (archive.storageUrl !== this.storage.url) {
        // ARCHIVE_URL changed since: never delete by key from a store the archive is not in.
        report.deferred.push({
          partition: archive.partitionName,
          reason: 'stored under another ARCHIVE_URL',
        });
        continue;
      }
      await this.archives.assertLockHeld();
      if (archive.format === 'parquet') {
        // A folder of files: the manifest lists them (the store is not listed).
        const keys = await this.parquet.fileKeys(archive);
        if (!keys) {
          report.deferred.push({ partition: archive.partitionName, reason: 'its manifest cannot be read' });
          continue;
        }
        for (const key of keys) await this.storage.delete(key);
      } else await this.storage.delete(archive.dataKey);
      await this.storage.delete(archive.manifestKey);
      await this.archives.markExpired(archive.id);
      report.expired.push({ partition: archive.partitionName, archiveId: archive.id });
      this.logger.log(`Archive ${archive.id} of ${archive.partitionName} expired (objects deleted)`);
      step(`expire ${archive.partitionName}`);
    }
    return report;
  }

  private async warm(partition: PartitionInfo): Promise<boolean> {
    if (!(await this.archives.addRangeCheck(partition.name, partition.from!, partition.to!))) return false;
    if (!(await this.archives.moveToWarm(partition.name, partition.from!, partition.to!))) return false;
    if (this.config.archive.warmTablespace)
      await this.archives.moveToTablespace(partition.name, this.config.archive.warmTablespace);
    this.logger.log(`${partition.name} is warm (detached from audit_events)`);
    return true;
  }

  private newArchive(partition: PartitionInfo) {
    const id = randomUUID();
    const { format } = this.config.archive;
    // Parquet compresses its column chunks with zstd, whatever ARCHIVE_COMPRESSION says.
    const compression = format === 'parquet' ? 'zstd' : this.config.archive.compression;
    const folder = `${partition.name}/${id}`;
    return {
      id,
      partitionName: partition.name,
      rangeFrom: partition.from!,
      rangeTo: partition.to!,
      storageUrl: this.storage.url,
      dataKey:
        format === 'parquet' ? `${folder}/parquet` : `${folder}/data.ndjson.${extensionOf(compression)}`,
      manifestKey: `${folder}/manifest.json`,
      compression,
      format,
    };
  }

  /** Takes one archive from whatever state it is in to cold. */
  private async finish(archive: ArchiveRecord, resumed: boolean, report: ArchiveReport): Promise<void> {
    await this.archives.assertLockHeld();
    const tableExists = await this.archives.tableExists(archive.partitionName);
    if (!tableExists) {
      if (archive.state === 'exported' && (await this.verify(archive))) {
        // Dropped by hand after a verified export: the archive is what remains.
        await this.archives.markCold(archive.id);
        report.archived.push(this.entry(archive, resumed));
        return;
      }
      throw new Error(
        `table ${archive.partitionName} of archive ${archive.id} is gone and no verified copy exists`,
      );
    }
    if (archive.state === 'exporting') {
      archive = await this.export(archive);
      await this.checkpoint('exported');
    }
    if (!(await this.verify(archive))) {
      await this.archives.markExporting(archive.id);
      throw new Error(
        `archive ${archive.id} of ${archive.partitionName} did not verify after upload; the next run exports it again`,
      );
    }
    await this.checkpoint('verified');
    const outcome = await this.archives.dropIfUnchanged(archive);
    if (outcome === 'changed') await this.archives.markExporting(archive.id);
    if (outcome !== 'dropped') {
      report.deferred.push({
        partition: archive.partitionName,
        reason:
          outcome === 'changed'
            ? 'rows were added since the export; exported again next run'
            : 'the table stayed locked; dropped next run',
      });
      return;
    }
    this.logger.log(
      `${archive.partitionName} archived (${archive.rowCount} rows, ${archive.byteSize} bytes) and dropped`,
    );
    report.archived.push(this.entry(archive, resumed));
  }

  private entry(archive: ArchiveRecord, resumed: boolean) {
    return {
      partition: archive.partitionName,
      archiveId: archive.id,
      rows: archive.rowCount,
      bytes: archive.byteSize,
      resumed,
    };
  }

  /**
   * Streams the table out (see exportTable), then writes the manifest, sealed by ARCHIVE_INTEGRITY.
   * Constant memory at any size.
   */
  private async export(archive: ArchiveRecord): Promise<ArchiveRecord> {
    await this.checkpoint('export-started');
    const columns = await this.archives.columns(archive.partitionName);
    const tableBytes = await this.archives.totalBytes(archive.partitionName);
    if (archive.format === 'parquet') {
      const exported = await this.parquet.export(archive, columns, tableBytes, () =>
        this.checkpoint('uploaded'),
      );
      await this.archives.markExported(archive.id, { ...exported, tableBytes });
      return {
        ...archive,
        state: 'exported',
        rowCount: exported.rows,
        byteSize: exported.bytes,
        sha256: exported.sha256,
        tableBytes,
      };
    }
    const stored = await exportTable(
      this.transfer,
      archive.partitionName,
      columns,
      this.storage.upload(archive.dataKey),
      {
        compression: archive.compression,
        streams: this.config.archive.exportStreams,
        spoolDir: this.config.archive.spoolDir,
      },
    );
    await this.checkpoint('uploaded');
    const file = { key: archive.dataKey, compression: archive.compression, ...stored };
    // The integrity section is taken while the table still exists (its events' seals, a checkpoint).
    const manifest = await this.integrity.seal(
      buildManifest({
        archiveId: archive.id,
        parent: WARM_PARENT,
        partition: archive.partitionName,
        from: archive.rangeFrom,
        to: archive.rangeTo,
        columns,
        rowOrder: ARCHIVE_ROW_ORDER,
        file,
        tableBytes,
        createdAt: new Date(),
      }),
    );
    await putText(this.storage, archive.manifestKey, `${JSON.stringify(manifest, null, 2)}\n`);
    await this.archives.markExported(archive.id, { ...stored, tableBytes });
    return {
      ...archive,
      state: 'exported',
      rowCount: stored.rows,
      byteSize: stored.bytes,
      sha256: stored.sha256,
      tableBytes,
    };
  }

  /**
   * Reads the stored copy back: its SHA-256, size and row count must match what was exported (and the
   * manifest must say the same). False on any difference.
   */
  async verify(archive: ArchiveRecord): Promise<boolean> {
    if (archive.format === 'parquet') return this.parquet.verify(archive);
    try {
      const manifest = parseManifest(await getText(this.storage, archive.manifestKey));
      const [file] = manifest.files;
      if (file.sha256 !== archive.sha256 || file.rows !== archive.rowCount || file.bytes !== archive.byteSize)
        return false;
      const stored = await this.measure(archive);
      return (
        stored.sha256 === archive.sha256 &&
        stored.bytes === archive.byteSize &&
        stored.rows === archive.rowCount
      );
    } catch (error) {
      this.logger.warn(`Verification of archive ${archive.id} failed: ${(error as Error).message}`);
      return false;
    }
  }

  /** SHA-256, size and rows of an archive's stored data file. */
  measure(archive: ArchiveRecord): Promise<StoredFile> {
    return measureStored(this.storage, archive.dataKey, archive.compression);
  }

  /** A point between two steps. Does nothing; a test makes it throw to play a crash there. */
  async checkpoint(_step: ArchiveCheckpoint): Promise<void> {}

  list(): Promise<ArchiveRecord[]> {
    return this.archives.list();
  }
}
