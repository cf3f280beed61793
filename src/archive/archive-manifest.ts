/**
 * The manifest written next to each cold archive: everything needed to check and restore it without the
 * database that produced it. Versioned: readers refuse a schema version they do not know.
 */
import { createHash } from 'node:crypto';
import { ArchiveCompression, isArchiveCompression } from './archive-codec';
import { ArchiveFormat } from './archive-format';

export const MANIFEST_SCHEMA_VERSION = 1;
/**
 * Parquet archives: several files and typed columns. A reader that knows only version 1 (one NDJSON file)
 * refuses them rather than misreading them.
 */
export const PARQUET_MANIFEST_SCHEMA_VERSION = 2;
export const MANIFEST_KIND = 'nest-audit-trail/archive';

export interface ManifestColumn {
  name: string;
  /** Postgres type as `format_type` prints it (`timestamp with time zone`, `jsonb`...). */
  type: string;
}

export interface ManifestFile {
  key: string;
  /** `ndjson`: one JSON document per line (see `rowEncoding`); `parquet`: a Parquet file (see `parquet`). */
  format: ArchiveFormat;
  /** NDJSON: the file's compression; Parquet: the codec of its column chunks (zstd). */
  compression: ArchiveCompression;
  rows: number;
  /** Size of the stored (compressed) object, and the SHA-256 of exactly those bytes (hex). */
  bytes: number;
  sha256: string;
  /** Parquet: the file's Hive partition (`org` null: events without an organization). */
  partition?: { org: string | null; month: string };
}

/** How a Parquet archive's files are laid out and typed. */
export interface ParquetLayout {
  /**
   * Folder of the files (the archive's data key): `<root>/org=<org>/month=<YYYY-MM>/part-<n>.parquet`,
   * the org percent-encoded, `org=__HIVE_DEFAULT_PARTITION__` for events without one.
   */
  root: string;
  layout: 'hive';
  partitionKeys: ['org', 'month'];
  /** The Parquet columns (DuckDB's names of their types), in `columns` order; org and month are in paths only. */
  columns: ManifestColumn[];
  /** SHA-256 of the file list (`filesDigest`): what the archives table records as the archive's sha256. */
  filesSha256: string;
}

export interface ArchiveManifest {
  kind: typeof MANIFEST_KIND;
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION | typeof PARQUET_MANIFEST_SCHEMA_VERSION;
  archiveId: string;
  source: { parent: string; partition: string; from: string; to: string };
  rowCount: number;
  /**
   * `json-array`: each line is a JSON array of one row's values, in `columns` order (Postgres' own JSON
   * rendering: timestamps ISO 8601, jsonb as JSON, bytea as "\\x..." hex). Names are not repeated on
   * every line: a third less to serialize and compress.
   */
  rowEncoding: 'json-array' | 'parquet';
  /** Parquet archives (schema version 2): the files' layout and column types. */
  parquet?: ParquetLayout;
  /** Lines are sorted by these columns (resource, then time): not in time order. */
  rowOrder: string[];
  /** The table's columns when it was archived: restore recreates exactly these (whatever the schema today). */
  columns: ManifestColumn[];
  files: ManifestFile[];
  /** heap + TOAST + indexes of the table before it was dropped (pg_total_relation_size). */
  tableBytes: number;
  createdAt: string;
  /**
   * Tamper evidence of the archived events, filled by src/integrity (ARCHIVE_INTEGRITY) before the manifest
   * is stored: the seals and signed checkpoint covering them, and an Ed25519 signature over this whole
   * manifest (`integrity.manifestSignature`). Checked offline by `npm run integrity -- verify-archive`.
   */
  integrity?: Record<string, unknown>;
}

export interface ManifestInput {
  archiveId: string;
  parent: string;
  partition: string;
  from: Date;
  to: Date;
  columns: ManifestColumn[];
  rowOrder: readonly string[];
  /** The NDJSON file; or, for a Parquet archive, `parquet`. */
  file?: Omit<ManifestFile, 'format'>;
  parquet?: { root: string; columns: ManifestColumn[]; files: Array<Omit<ManifestFile, 'format'>> };
  tableBytes: number;
  createdAt: Date;
  integrity?: Record<string, unknown>;
}

/** The one place a manifest is built. */
export function buildManifest(input: ManifestInput): ArchiveManifest {
  if (input.parquet) return buildParquetManifest(input, input.parquet);
  if (!input.file) throw new Error('an NDJSON manifest needs its file');
  return {
    kind: MANIFEST_KIND,
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    archiveId: input.archiveId,
    source: {
      parent: input.parent,
      partition: input.partition,
      from: input.from.toISOString(),
      to: input.to.toISOString(),
    },
    rowCount: input.file.rows,
    rowEncoding: 'json-array',
    rowOrder: [...input.rowOrder],
    columns: input.columns,
    files: [{ ...input.file, format: 'ndjson' }],
    tableBytes: input.tableBytes,
    createdAt: input.createdAt.toISOString(),
    ...(input.integrity ? { integrity: input.integrity } : {}),
  };
}

function buildParquetManifest(
  input: ManifestInput,
  { root, columns, files }: NonNullable<ManifestInput['parquet']>,
): ArchiveManifest {
  const listed = files.map((file) => ({ ...file, format: 'parquet' as const }));
  return {
    kind: MANIFEST_KIND,
    schemaVersion: PARQUET_MANIFEST_SCHEMA_VERSION,
    archiveId: input.archiveId,
    source: {
      parent: input.parent,
      partition: input.partition,
      from: input.from.toISOString(),
      to: input.to.toISOString(),
    },
    rowCount: files.reduce((sum, file) => sum + file.rows, 0),
    rowEncoding: 'parquet',
    parquet: {
      root,
      layout: 'hive',
      partitionKeys: ['org', 'month'],
      columns,
      filesSha256: filesDigest(listed),
    },
    rowOrder: [...input.rowOrder],
    columns: input.columns,
    files: listed,
    tableBytes: input.tableBytes,
    createdAt: input.createdAt.toISOString(),
    ...(input.integrity ? { integrity: input.integrity } : {}),
  };
}

/**
 * One SHA-256 for a list of files (key, size, rows and SHA-256 of each, in order): the archives table keeps
 * it for a Parquet archive, so a file, or the manifest's list, replaced later is refused.
 */
export function filesDigest(files: Array<Pick<ManifestFile, 'key' | 'bytes' | 'rows' | 'sha256'>>): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file.key}\t${file.bytes}\t${file.rows}\t${file.sha256}\n`);
  return hash.digest('hex');
}

/** The SHA-256 the archives table records: the NDJSON file's, or the Parquet file list's. */
export const manifestSha256 = (manifest: ArchiveManifest) =>
  manifest.parquet ? manifest.parquet.filesSha256 : manifest.files[0].sha256;

/** Bytes stored: the NDJSON file's size, or the sum of the Parquet files' sizes. */
export const manifestBytes = (manifest: ArchiveManifest) =>
  manifest.files.reduce((sum, file) => sum + file.bytes, 0);

export class InvalidManifest extends Error {
  constructor(reason: string) {
    super(`invalid archive manifest: ${reason}`);
    this.name = 'InvalidManifest';
  }
}

/** Parses and checks a manifest's shape; throws InvalidManifest naming what is wrong. */
export function parseManifest(text: string): ArchiveManifest {
  let value: Partial<ArchiveManifest>;
  try {
    value = JSON.parse(text) as Partial<ArchiveManifest>;
  } catch {
    throw new InvalidManifest('not JSON');
  }
  if (value.kind !== MANIFEST_KIND) throw new InvalidManifest('kind');
  if (value.schemaVersion === PARQUET_MANIFEST_SCHEMA_VERSION) return parseParquetManifest(value);
  if (value.schemaVersion !== MANIFEST_SCHEMA_VERSION)
    throw new InvalidManifest(`unsupported schemaVersion ${String(value.schemaVersion)}`);
  if (typeof value.archiveId !== 'string') throw new InvalidManifest('archiveId');
  if (!Array.isArray(value.columns) || value.columns.length === 0) throw new InvalidManifest('columns');
  for (const column of value.columns)
    if (typeof column?.name !== 'string' || typeof column?.type !== 'string')
      throw new InvalidManifest('columns');
  if (value.rowEncoding !== 'json-array') throw new InvalidManifest('rowEncoding');
  if (!Array.isArray(value.files) || value.files.length !== 1) throw new InvalidManifest('files');
  const [file] = value.files;
  if (!isArchiveCompression(file?.compression)) throw new InvalidManifest('files[0].compression');
  if (!/^[0-9a-f]{64}$/.test(file?.sha256 ?? '')) throw new InvalidManifest('files[0].sha256');
  if (!Number.isInteger(file.rows) || !Number.isInteger(file.bytes)) throw new InvalidManifest('files[0]');
  if (value.rowCount !== file.rows) throw new InvalidManifest('rowCount');
  return value as ArchiveManifest;
}

function checkCommon(value: Partial<ArchiveManifest>): void {
  if (typeof value.archiveId !== 'string') throw new InvalidManifest('archiveId');
  if (!Array.isArray(value.columns) || value.columns.length === 0) throw new InvalidManifest('columns');
  for (const column of value.columns)
    if (typeof column?.name !== 'string' || typeof column?.type !== 'string')
      throw new InvalidManifest('columns');
}

function parseParquetManifest(value: Partial<ArchiveManifest>): ArchiveManifest {
  checkCommon(value);
  if (value.rowEncoding !== 'parquet') throw new InvalidManifest('rowEncoding');
  const layout = value.parquet;
  if (typeof layout?.root !== 'string' || layout.layout !== 'hive') throw new InvalidManifest('parquet');
  if (!Array.isArray(layout.columns) || layout.columns.length !== value.columns!.length)
    throw new InvalidManifest('parquet.columns');
  layout.columns.forEach((column, i) => {
    if (column?.name !== value.columns![i].name || typeof column.type !== 'string')
      throw new InvalidManifest('parquet.columns');
  });
  if (!Array.isArray(value.files)) throw new InvalidManifest('files');
  value.files.forEach((file, i) => {
    const where = `files[${i}]`;
    if (file?.format !== 'parquet' || !isArchiveCompression(file.compression))
      throw new InvalidManifest(where);
    // Keys stay under the archive's folder: a local copy is laid out by them (no `..`).
    if (typeof file.key !== 'string' || !file.key.startsWith(`${layout.root}/`) || file.key.includes('..'))
      throw new InvalidManifest(`${where}.key`);
    if (!/^[0-9a-f]{64}$/.test(file.sha256 ?? '')) throw new InvalidManifest(`${where}.sha256`);
    if (!Number.isInteger(file.rows) || !Number.isInteger(file.bytes)) throw new InvalidManifest(where);
    const org = file.partition?.org;
    if (!/^\d{4}-\d\d$/.test(file.partition?.month ?? '') || (org !== null && typeof org !== 'string'))
      throw new InvalidManifest(`${where}.partition`);
  });
  if (value.rowCount !== value.files.reduce((sum, file) => sum + file.rows, 0))
    throw new InvalidManifest('rowCount');
  if (layout.filesSha256 !== filesDigest(value.files)) throw new InvalidManifest('parquet.filesSha256');
  return value as ArchiveManifest;
}
