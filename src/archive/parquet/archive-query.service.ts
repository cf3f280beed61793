import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { ArchiveManifest, ManifestFile, manifestSha256, parseManifest } from '../archive-manifest';
import { ArchiveRepository } from '../archive.repository';
import { ArchiveError, ArchiveErrorCode } from '../archive.errors';
import { ARCHIVE_STORAGE } from '../archive.tokens';
import { ArchiveObjectNotFound, ArchiveStorage, getText } from '../storage/archive-storage';
import { AUDIT_CONFIG, AuditTrailConfig } from '../../common/config/audit-config';
import { duckString, openDuckDb } from './duckdb';
import { displaySelect, jsonColumnNames } from './parquet-columns';
import { fetchParquetFiles, ParquetFileMismatch } from './parquet-read';

/** A query of archived events: one organization, a time range, optional equality filters. */
export interface ArchiveQuery {
  /** null: the events recorded without an organization. */
  organizationId: string | null;
  /** Event time, inclusive. */
  from: Date;
  /** Event time, exclusive. */
  to: Date;
  action?: string;
  actorId?: string;
  resourceType?: string;
  resourceId?: string;
  /** At most this many events, oldest first. */
  limit: number;
}

export interface ArchiveQueryResult {
  /** Column names of `rows`, in archive order. */
  columns: string[];
  /** JSON columns (before, after, changes, metadata...) as parsed values; personal fields as stored (encrypted). */
  rows: Array<Record<string, unknown>>;
  /** Parquet archives and files read (after pruning by organization and month). */
  archives: number;
  files: number;
}

const FILTERS = [
  ['action', 'action'],
  ['actorId', 'actor_id'],
  ['resourceType', 'resource_type'],
  ['resourceId', 'resource_id'],
] as const;

const month = (date: Date) => date.toISOString().slice(0, 7);

/**
 * Queries cold Parquet archives straight from their files with DuckDB, without restoring them. The archives
 * table says which archives cover the range; their manifests (matched with the table's digest) say which
 * files hold the organization's months, so only those are fetched (any store, file or S3, through the
 * archive storage) and their SHA-256 checked; DuckDB then prunes again on the Hive keys (org, month) and
 * filters with bound parameters.
 */
@Injectable()
export class ArchiveQueryService {
  constructor(
    private readonly archives: ArchiveRepository,
    @Inject(ARCHIVE_STORAGE) private readonly storage: ArchiveStorage,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  async query(query: ArchiveQuery): Promise<ArchiveQueryResult> {
    const covering = (await this.archives.list()).filter(
      (a) =>
        a.format === 'parquet' &&
        (a.state === 'cold' || a.state === 'exported') &&
        a.storageUrl === this.storage.url &&
        a.rangeFrom < query.to &&
        a.rangeTo > query.from,
    );
    const [first, last] = [month(query.from), month(new Date(query.to.getTime() - 1))];
    const dir = await mkdtemp(join(this.config.archive.spoolDir, 'audit-archive-query-'));
    try {
      const paths: string[] = [];
      let columns: ArchiveManifest['columns'] | null = null;
      for (const archive of covering) {
        const manifest = await this.manifest(archive.id, archive.manifestKey, archive.sha256);
        const wanted = manifest.files.filter((file: ManifestFile) => {
          const { org, month } = file.partition!;
          return org === query.organizationId && month >= first && month <= last;
        });
        if (wanted.length === 0) continue;
        columns ??= manifest.columns;
        const local = join(dir, archive.id);
        paths.push(...(await this.fetch(archive.id, manifest, local, wanted)));
      }
      if (!columns || paths.length === 0) return { columns: [], rows: [], archives: 0, files: 0 };
      const rows = await this.select(paths, columns, query, dir, [first, last]);
      return {
        columns: columns.map((c) => c.name),
        rows,
        archives: new Set(paths.map((p) => p.slice(dir.length + 1).split('/')[0])).size,
        files: paths.length,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async select(
    paths: string[],
    columns: ArchiveManifest['columns'],
    query: ArchiveQuery,
    dir: string,
    [first, last]: [string, string],
  ): Promise<Array<Record<string, unknown>>> {
    const values: Record<string, string | number> = {
      first,
      last,
      from: query.from.toISOString(),
      to: query.to.toISOString(),
      limit: query.limit,
    };
    if (query.organizationId !== null) values.org = query.organizationId;
    const conditions = [
      query.organizationId === null ? 'org IS NULL' : 'org = $org',
      'month BETWEEN $first AND $last',
      'occurred_at >= CAST($from AS TIMESTAMPTZ)',
      'occurred_at < CAST($to AS TIMESTAMPTZ)',
    ];
    for (const [option, column] of FILTERS) {
      const value = query[option];
      if (value === undefined) continue;
      values[option] = value;
      conditions.push(`${column} = $${option}`);
    }
    // Paths are ours (a temporary folder and manifest keys already checked to stay inside it): DuckDB takes
    // a table function's file list as a constant. Every user value is a bound parameter.
    const duck = await openDuckDb(dir);
    try {
      const reader = await duck.connection.runAndReadAll(
        `SELECT ${displaySelect(columns)}
           FROM read_parquet([${paths.map(duckString).join(', ')}], hive_partitioning = true,
                             hive_types = {'org': VARCHAR, 'month': VARCHAR})
          WHERE ${conditions.join(' AND ')}
          ORDER BY occurred_at, id
          LIMIT $limit`,
        values,
      );
      const json = new Set(jsonColumnNames(columns));
      return reader.getRowObjectsJS().map((row) => {
        const out: Record<string, unknown> = {};
        for (const { name } of columns) {
          const value = row[name];
          out[name] =
            json.has(name) && typeof value === 'string'
              ? JSON.parse(value)
              : typeof value === 'bigint'
                ? Number(value)
                : value;
        }
        return out;
      });
    } finally {
      duck.close();
    }
  }

  private async manifest(id: string, key: string, sha256: string | null): Promise<ArchiveManifest> {
    let manifest: ArchiveManifest;
    try {
      manifest = parseManifest(await getText(this.storage, key));
    } catch (error) {
      throw new ArchiveError(
        ArchiveErrorCode.Tampered,
        `archive ${id}: ${(error as Error).message}; refused`,
      );
    }
    if (manifest.archiveId !== id || !manifest.parquet || manifestSha256(manifest) !== sha256)
      throw new ArchiveError(
        ArchiveErrorCode.Tampered,
        `archive ${id}: the manifest does not match the archive record; refused`,
      );
    return manifest;
  }

  private async fetch(id: string, manifest: ArchiveManifest, dir: string, files: ManifestFile[]) {
    try {
      return await fetchParquetFiles(this.storage, manifest, dir, files);
    } catch (error) {
      if (error instanceof ParquetFileMismatch || error instanceof ArchiveObjectNotFound)
        throw new ArchiveError(
          ArchiveErrorCode.Tampered,
          `archive ${id}: a stored Parquet file is missing or does not match its checksum; refused`,
        );
      throw error;
    }
  }
}
