import { ManifestColumn } from '../archive-manifest';
import { duckIdentifier } from './duckdb';

/** How a Postgres column is typed in Parquet, and turned back into the archive's JSON-array line. */
type Kind = 'timestamptz' | 'timestamp' | 'json' | 'bytea' | 'number' | 'boolean' | 'text';

interface ParquetColumn {
  name: string;
  kind: Kind;
  /** The DuckDB type written to Parquet. */
  type: string;
}

/** Postgres type (format_type) -> DuckDB/Parquet type. Anything else is kept as its Postgres text form. */
const TYPES: Record<string, [Kind, string]> = {
  'timestamp with time zone': ['timestamptz', 'TIMESTAMPTZ'],
  'timestamp without time zone': ['timestamp', 'TIMESTAMP'],
  uuid: ['text', 'UUID'],
  smallint: ['number', 'SMALLINT'],
  integer: ['number', 'INTEGER'],
  bigint: ['number', 'BIGINT'],
  real: ['number', 'FLOAT'],
  'double precision': ['number', 'DOUBLE'],
  boolean: ['boolean', 'BOOLEAN'],
  bytea: ['bytea', 'BLOB'],
  // JSON stays the text Postgres stored (jsonb's rendering): any Parquet reader gets it as a string.
  jsonb: ['json', 'VARCHAR'],
  json: ['json', 'VARCHAR'],
};

/** The Hive keys: the file's folder names, not columns of its own. */
export const PARTITION_KEYS = ['org', 'month'] as const;

export function parquetColumns(columns: ManifestColumn[]): ParquetColumn[] {
  return columns.map(({ name, type }) => {
    if ((PARTITION_KEYS as readonly string[]).includes(name))
      throw new Error(`column ${name} collides with a Hive partition key of Parquet archives`);
    const [kind, duckType] = TYPES[type] ?? ['text', 'VARCHAR'];
    return { name, kind, type: duckType };
  });
}

/** The columns' Parquet types, for the manifest. */
export const parquetSchema = (columns: ManifestColumn[]): ManifestColumn[] =>
  parquetColumns(columns).map(({ name, type }) => ({ name, type }));

/** `read_csv`'s `columns` struct for Postgres' CSV of `columns` (bytea and booleans are converted after). */
export function csvColumns(columns: ManifestColumn[]): string {
  const fields = parquetColumns(columns).map(({ name, kind, type }) => {
    const asRead = kind === 'bytea' || kind === 'boolean' ? 'VARCHAR' : type;
    return `${duckString(name)}: ${duckString(asRead)}`;
  });
  return `{${fields.join(', ')}}`;
}

const duckString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** The SELECT list turning read_csv's columns into the Parquet columns. */
export function typedSelect(columns: ManifestColumn[]): string {
  return parquetColumns(columns)
    .map(({ name, kind }) => {
      const column = duckIdentifier(name);
      // Postgres writes bytea as \x<hex> and booleans as t/f.
      if (kind === 'bytea') return `unhex(substr(${column}, 3)) AS ${column}`;
      if (kind === 'boolean') return `(${column} = 't') AS ${column}`;
      return column;
    })
    .join(', ');
}

/**
 * One row as the JSON array an NDJSON archive holds (archive-transfer.repository.ts, copyOut): values in
 * `columns` order, timestamps ISO 8601 in UTC, JSON columns as the JSON they hold (their stored text,
 * embedded as is), bytea as "\\x<hex>". Restore (jsonb_populate_record) and `verify-archive` (event hashes)
 * then read Parquet rows exactly as they read NDJSON lines. Needs TimeZone UTC (openDuckDb sets it).
 */
export function jsonArrayLine(columns: ManifestColumn[]): string {
  const values = parquetColumns(columns).map(({ name, kind }) => {
    const column = duckIdentifier(name);
    const value =
      kind === 'timestamptz'
        ? `'"' || strftime(${column}, '%Y-%m-%dT%H:%M:%S.%f') || '+00:00"'`
        : kind === 'timestamp'
          ? `'"' || strftime(${column}, '%Y-%m-%dT%H:%M:%S.%f') || '"'`
          : kind === 'json'
            ? column
            : kind === 'bytea'
              ? `'"\\\\x' || lower(hex(${column})) || '"'`
              : kind === 'number' || kind === 'boolean'
                ? `CAST(${column} AS VARCHAR)`
                : `CAST(to_json(CAST(${column} AS VARCHAR)) AS VARCHAR)`;
    return `coalesce(${value}, 'null')`;
  });
  return `'[' || ${values.join(" || ',' || ")} || ']'`;
}

/** A readable rendering for query results: timestamps ISO 8601 (Z), bytea hex, everything else as text. */
export function displaySelect(columns: ManifestColumn[]): string {
  return parquetColumns(columns)
    .map(({ name, kind }) => {
      const column = duckIdentifier(name);
      if (kind === 'timestamptz') return `strftime(${column}, '%Y-%m-%dT%H:%M:%S.%fZ') AS ${column}`;
      if (kind === 'bytea') return `lower(hex(${column})) AS ${column}`;
      if (kind === 'number' || kind === 'boolean') return column;
      return `CAST(${column} AS VARCHAR) AS ${column}`;
    })
    .join(', ');
}

/** Which of `columns` hold JSON text (parsed back into values in NDJSON output). */
export const jsonColumnNames = (columns: ManifestColumn[]) =>
  parquetColumns(columns)
    .filter((c) => c.kind === 'json')
    .map((c) => c.name);
