import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PoolClient } from 'pg';
import { ArchiveCompression, compressor, decompressor } from './archive-codec';
import { ManifestColumn } from './archive-manifest';
import { ArchiveTransferRepository } from './archive-transfer.repository';
import { LineMeter, Sha256Meter } from './archive-stream';
import { ArchiveStorage, ObjectUpload } from './storage/archive-storage';

export interface StoredFile {
  rows: number;
  /** Size and SHA-256 of the stored (compressed) bytes. */
  bytes: number;
  sha256: string;
}

export interface ExportOptions {
  compression: ArchiveCompression;
  /** Connections reading at the same time (ARCHIVE_EXPORT_STREAMS). */
  streams: number;
  /** Where the slices after the first wait, compressed, until their turn (the OS temporary directory). */
  spoolDir?: string;
}

interface SpooledSlice {
  file: string;
  lines: LineMeter;
  done: Promise<void>;
}

/**
 * Streams every row of `table` into `upload`: COPY TO STDOUT (Postgres serializes each row as a JSON
 * array) -> count lines -> compress -> SHA-256 -> store. Backpressure runs end to end, so memory stays
 * flat at any size.
 *
 * With `streams` > 1, that many connections read consecutive slices of the rows at the same time (one
 * snapshot), each compressed on its own: Postgres' serialization, the export's bottleneck, then runs on
 * several cores. The first slice flows straight to the store; the others are compressed into files in
 * `spoolDir` and appended in order once it is done. gzip members and zstd frames concatenate into one valid
 * stream, so the file is the same kind of file (brotli streams do not: it always exports with one).
 */
export async function exportTable(
  repository: ArchiveTransferRepository,
  table: string,
  columns: ManifestColumn[],
  upload: ObjectUpload,
  { compression, streams, spoolDir = tmpdir() }: ExportOptions,
): Promise<StoredFile> {
  const count = compression === 'brotli' ? 1 : Math.max(1, Math.floor(streams));
  const clients: PoolClient[] = [];
  const abort = new AbortController();
  const spooled: SpooledSlice[] = [];
  const lines = new LineMeter();
  const sha = new Sha256Meter();
  let failure: Error | undefined;
  let spool: string | null = null;
  try {
    if (count > 1) spool = await mkdtemp(join(spoolDir, SPOOL_PREFIX));
    for (let i = 0; i < count; i++) clients.push(await repository.connect());
    const [first, ...rest] = await repository.beginExport(clients, table);
    rest.forEach((slice, i) => {
      const client = clients[i + 1];
      const file = join(spool!, `slice-${i + 1}`);
      const meter = new LineMeter();
      const copy = repository.copyOut(client, table, columns, slice) as Readable;
      // Each slice's transaction ends with its COPY: none waits idle in transaction for the others.
      const done = pipeline(copy, meter, compressor(compression), createWriteStream(file), {
        signal: abort.signal,
      }).then(() => repository.endExport(client));
      done.catch((error: unknown) => abort.abort(error));
      spooled.push({ file, lines: meter, done });
    });
    const copy = repository.copyOut(clients[0], table, columns, first) as Readable;
    const then = appendInOrder(() => repository.endExport(clients[0]), spooled);
    const { signal } = abort;
    await pipeline(copy, lines, compressor(compression), then, sha, upload.stream, { signal });
    await upload.done;
  } catch (error) {
    // A slice that failed first aborted the rest: its error is the one to report.
    failure = (abort.signal.aborted ? abort.signal.reason : error) as Error;
    abort.abort(failure);
    upload.stream.destroy();
    await Promise.allSettled([upload.done, ...spooled.map((slice) => slice.done)]);
    throw failure;
  } finally {
    // A connection interrupted mid-COPY is not reusable: hand back an error so the pool discards it.
    for (const client of clients) client.release(failure);
    if (spool) await rm(spool, { recursive: true, force: true });
  }
  const rows = spooled.reduce((sum, slice) => sum + slice.lines.lines, lines.lines);
  return { rows, bytes: sha.bytes, sha256: sha.sha256 };
}

/**
 * Passes the first slice's bytes through, runs `afterFirst` (its transaction ends, read to the end), then
 * each spooled slice's bytes, in order, as they complete.
 */
function appendInOrder(afterFirst: () => Promise<void>, slices: SpooledSlice[]) {
  return async function* (head: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    yield* head;
    await afterFirst();
    for (const slice of slices) {
      await slice.done;
      yield* createReadStream(slice.file);
    }
  };
}

export const SPOOL_PREFIX = 'audit-archive-';

/** An export's spool lives minutes to hours: one this old was left by a process killed mid-export. */
export const STALE_SPOOL_MS = 24 * 60 * 60 * 1000;

/**
 * Removes spool directories that exports of killed processes left in `spoolDir` (nothing in them modified
 * for STALE_SPOOL_MS: an export running elsewhere on this host keeps writing to its own). Returns their names.
 */
export async function sweepStaleSpools(spoolDir: string, now = Date.now()): Promise<string[]> {
  const entries = await readdir(spoolDir, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !entry.name.startsWith(SPOOL_PREFIX)) continue;
    const path = join(spoolDir, entry.name);
    // Its slices are written to as the export runs; the directory's own time changes only when one is made.
    const files = await readdir(path).catch(() => []);
    const times = await Promise.all([path, ...files.map((file) => join(path, file))].map((p) => stat(p)));
    if (now - Math.max(...times.map((time) => time.mtimeMs)) < STALE_SPOOL_MS) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}

/** SHA-256 and size of a stored object's bytes as stored, nothing decompressed. */
export async function checksumStored(
  storage: ArchiveStorage,
  key: string,
): Promise<Omit<StoredFile, 'rows'>> {
  const sha = new Sha256Meter();
  await pipeline(await storage.download(key), sha, discard());
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
  await pipeline(await storage.download(key), sha, decompressor(compression), lines, discard());
  return { sha256: sha.sha256, bytes: sha.bytes, rows: lines.lines };
}

/** The end of a pipeline whose stages only measure. */
const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });
