/**
 * How a cold archive's rows are stored. `ndjson`: one compressed file of JSON arrays (archive-codec.ts).
 * `parquet`: typed Parquet files, one per organization and month, in a Hive layout (src/archive/parquet),
 * written and read by DuckDB (the optional `@duckdb/node-api`).
 */
export const ARCHIVE_FORMATS = ['ndjson', 'parquet'] as const;
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number];

export const isArchiveFormat = (value: unknown): value is ArchiveFormat =>
  ARCHIVE_FORMATS.includes(value as ArchiveFormat);
