import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PoolClient } from 'pg';
import { ArchiveCompression, compressor, decompressor } from 'src/archive/archive-codec';
import { ManifestColumn } from 'src/archive/archive-manifest';
import { ArchiveRepository } from 'src/archive/archive.repository';
import { LineMeter, Sha256Meter } from 'src/archive/archive-stream';
import { ArchiveStorage, ObjectUpload } from 'src/archive/storage/archive-storage';

const EXPORT_WORK_MEM = '64MB';

export interface StoredFile {
  rows: number;
  /** Size and SHA-256 of the stored (compressed) bytes. */
  bytes: number;
  sha256: string;
}

/**
 * Streams every row of `table` into `upload`: COPY TO STDOUT (Postgres serializes each row as a JSON
 * array) -> count lines -> compress -> SHA-256 -> store. Backpressure runs end to end, so memory stays
 * flat at any size; the COPY and the compression run on different cores at the same time.
 */
export async function exportTable(
  repository: ArchiveRepository,
  client: PoolClient,
  table: string,
  columns: ManifestColumn[],
  upload: ObjectUpload,
  compression: ArchiveCompression,
): Promise<StoredFile> {
  const lines = new LineMeter();
  const sha = new Sha256Meter();
  try {
    // Rows come in the order of the partition's resource index (resource_type, resource_id, occurred_at, id,
    // the ARCHIVE_ROW_ORDER): the first row leaves at once and Postgres reads while the compressor works.
    // Left to itself the planner sorts a sequential scan, and nothing reaches the compressor until the whole
    // month is sorted: 53-56k rows/s end to end against 90-95k with the index (bench/archive). Without
    // the index the sort still happens, with enough memory to stay off disk. Local to this transaction.
    await client.query('BEGIN');
    await client.query(
      `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; ` +
        `SET LOCAL work_mem = '${EXPORT_WORK_MEM}'`,
    );
    const copy = repository.copyOut(client, table, columns);
    await pipeline(copy as Readable, lines, compressor(compression), sha, upload.stream);
    await client.query('COMMIT');
    await upload.done;
  } catch (error) {
    upload.stream.destroy();
    await upload.done.catch(() => undefined);
    throw error;
  }
  return { rows: lines.lines, bytes: sha.bytes, sha256: sha.sha256 };
}

/** SHA-256 and size of a stored object's bytes as stored, nothing decompressed. */
export async function checksumStored(
  storage: ArchiveStorage,
  key: string,
): Promise<Omit<StoredFile, 'rows'>> {
  const sha = new Sha256Meter();
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(await storage.download(key), sha, sink);
  return { sha256: sha.sha256, bytes: sha.bytes };
}

/** SHA-256 and size of a stored object, and the rows it holds once decompressed. */
export async function measureStored(
  storage: ArchiveStorage,
  key: string,
  compression: ArchiveCompression,
): Promise<StoredFile> {
  const sha = new Sha256Meter();
  const lines = new LineMeter();
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(await storage.download(key), sha, decompressor(compression), lines, sink);
  return { sha256: sha.sha256, bytes: sha.bytes, rows: lines.lines };
}
