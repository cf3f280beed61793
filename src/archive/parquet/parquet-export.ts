import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PoolClient } from 'pg';
import { SPOOL_PREFIX } from '../archive-export';
import { ManifestColumn, ManifestFile } from '../archive-manifest';
import { ArchiveTransferRepository } from '../archive-transfer.repository';
import { Sha256Meter } from '../archive-stream';
import { ArchiveStorage } from '../storage/archive-storage';
import { duckString, openDuckDb } from './duckdb';
import { csvColumns, parquetSchema, typedSelect } from './parquet-columns';

export interface ParquetExport {
  /** The files as uploaded, in the order of their partitions (month, then org). */
  files: Array<Omit<ManifestFile, 'format'>>;
  /** The Parquet columns' types (for the manifest). */
  columns: ManifestColumn[];
}

export interface ParquetExportOptions {
  /** Connections reading at the same time (ARCHIVE_EXPORT_STREAMS), each a consecutive slice. */
  streams: number;
  /** Where the CSV slices and the Parquet files wait before the upload (the OS temporary directory). */
  spoolDir?: string;
}

/**
 * Writes every row of `table` as Parquet files under `root` in `storage`, one per organization and month
 * (Hive layout: `org=<org>/month=<YYYY-MM>/part-0.parquet`), typed (parquet-columns.ts), zstd. Names are
 * deterministic: an export resumed after a crash overwrites the same keys instead of leaving strays.
 *
 * Postgres COPYs the rows out as CSV (its cheapest serialization), `streams` slices at once in one snapshot,
 * to a spool directory; DuckDB reads the slices in parallel and writes the partitioned files; each file is
 * then hashed (SHA-256) on its way to the store. The spool (about the size of the table's text, plus the
 * Parquet files) is removed at the end, and by `sweepStaleSpools` after a crash (same prefix).
 */
export async function exportParquet(
  repository: ArchiveTransferRepository,
  table: string,
  columns: ManifestColumn[],
  storage: ArchiveStorage,
  root: string,
  { streams, spoolDir = tmpdir() }: ParquetExportOptions,
): Promise<ParquetExport> {
  const spool = await mkdtemp(join(spoolDir, SPOOL_PREFIX));
  const clients: PoolClient[] = [];
  let failure: Error | undefined;
  try {
    for (let i = 0; i < Math.max(1, Math.floor(streams)); i++) clients.push(await repository.connect());
    const slices = await repository.beginExport(clients, table);
    const csvFiles = slices.map((_slice, i) => join(spool, `slice-${i}.csv`));
    await Promise.all(
      slices.map(async (slice, i) => {
        const copy = await repository.copyOutCsv(clients[i], table, columns, slice);
        await pipeline(copy, createWriteStream(csvFiles[i]));
        await repository.endExport(clients[i]);
      }),
    );
    const out = join(spool, 'parquet');
    await mkdir(join(spool, 'duckdb'));
    const written = await writeParquet(csvFiles, columns, out, join(spool, 'duckdb'));
    const files: ParquetExport['files'] = [];
    for (const file of written) {
      const key = `${root}/${relative(out, file.path).split(sep).join('/')}`;
      const upload = storage.upload(key);
      const sha = new Sha256Meter();
      await pipeline(createReadStream(file.path), sha, upload.stream);
      await upload.done;
      files.push({
        key,
        compression: 'zstd',
        rows: file.rows,
        bytes: sha.bytes,
        sha256: sha.sha256,
        partition: { org: file.org, month: file.month },
      });
    }
    return { files, columns: parquetSchema(columns) };
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    // A connection interrupted mid-COPY is not reusable: hand back an error so the pool discards it.
    for (const client of clients) client.release(failure);
    await rm(spool, { recursive: true, force: true });
  }
}

interface WrittenFile {
  path: string;
  org: string | null;
  month: string;
  rows: number;
}

/** DuckDB: CSV slices -> typed Parquet files partitioned by organization and month. */
async function writeParquet(
  csvFiles: string[],
  columns: ManifestColumn[],
  out: string,
  duckTemp: string,
): Promise<WrittenFile[]> {
  const duck = await openDuckDb(duckTemp);
  try {
    const source =
      `read_csv([${csvFiles.map(duckString).join(', ')}], header = false, auto_detect = false, ` +
      `delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, columns = ${csvColumns(columns)})`;
    // No ORDER BY: the slices come in resource order and DuckDB keeps the order it reads; a sort cost a
    // third of the export's time for the same size (bench/archive, 100k events).
    await duck.connection.run(
      `COPY (SELECT ${typedSelect(columns)}, organization_id AS org, strftime(occurred_at, '%Y-%m') AS month
               FROM ${source})
         TO ${duckString(out)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (org, month),
                               FILENAME_PATTERN 'part-{i}')`,
    );
    try {
      return await listParquet(duck.connection, `${out}/**/*.parquet`);
    } catch (error) {
      // An empty table writes no file at all: nothing to list.
      if (/No files found/i.test((error as Error).message)) return [];
      throw error;
    }
  } finally {
    duck.close();
  }
}

/** The files under a Hive tree with their partition values (decoded by DuckDB) and row counts. */
async function listParquet(
  connection: Awaited<ReturnType<typeof openDuckDb>>['connection'],
  glob: string,
): Promise<WrittenFile[]> {
  const reader = await connection.runAndReadAll(
    `SELECT filename, org, month, count(*) AS n
       FROM read_parquet(${duckString(glob)}, hive_partitioning = true, filename = true,
                         hive_types = {'org': VARCHAR, 'month': VARCHAR})
      GROUP BY ALL ORDER BY month, org NULLS FIRST, filename`,
  );
  return reader.getRowsJS().map(([path, org, month, n]) => ({
    path: String(path),
    org: org === null ? null : String(org),
    month: String(month),
    rows: Number(n),
  }));
}
