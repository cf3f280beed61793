/**
 * The manifest written next to each cold archive: everything needed to check and restore it without the
 * database that produced it. Versioned: readers refuse a schema version they do not know.
 */
import { ArchiveCompression, isArchiveCompression } from './archive-codec';

export const MANIFEST_SCHEMA_VERSION = 1;
export const MANIFEST_KIND = 'nest-audit-trail/archive';

export interface ManifestColumn {
  name: string;
  /** Postgres type as `format_type` prints it (`timestamp with time zone`, `jsonb`...). */
  type: string;
}

export interface ManifestFile {
  key: string;
  /** One JSON document per line: see `rowEncoding`. */
  format: 'ndjson';
  compression: ArchiveCompression;
  rows: number;
  /** Size of the stored (compressed) object, and the SHA-256 of exactly those bytes (hex). */
  bytes: number;
  sha256: string;
}

export interface ArchiveManifest {
  kind: typeof MANIFEST_KIND;
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  archiveId: string;
  source: { parent: string; partition: string; from: string; to: string };
  rowCount: number;
  /**
   * `json-array`: each line is a JSON array of one row's values, in `columns` order (Postgres' own JSON
   * rendering: timestamps ISO 8601, jsonb as JSON, bytea as "\\x..." hex). Names are not repeated on
   * every line: a third less to serialize and compress.
   */
  rowEncoding: 'json-array';
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
  file: Omit<ManifestFile, 'format'>;
  tableBytes: number;
  createdAt: Date;
  integrity?: Record<string, unknown>;
}

/** The one place a manifest is built. */
export function buildManifest(input: ManifestInput): ArchiveManifest {
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
