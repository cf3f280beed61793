import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveManifest, ManifestColumn, ManifestFile } from '../archive-manifest';
import { Sha256Meter } from '../archive-stream';
import { ArchiveStorage } from '../storage/archive-storage';
import { DuckDbSession, duckString, openDuckDb } from './duckdb';
import { jsonArrayLine } from './parquet-columns';

/** A Parquet file whose bytes are not the ones its manifest lists (replaced, truncated, edited). */
export class ParquetFileMismatch extends Error {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`the Parquet file ${key} does not match its manifest (${detail})`);
    this.name = 'ParquetFileMismatch';
  }
}

/** Where `file` of `manifest` lies in a local copy of the archive's folder (its Hive path under `dir`). */
export function localPath(dir: string, manifest: ArchiveManifest, file: ManifestFile): string {
  const root = resolve(dir);
  const path = resolve(root, file.key.slice(manifest.parquet!.root.length + 1));
  if (!path.startsWith(`${root}/`))
    throw new ParquetFileMismatch(file.key, 'its key leaves the archive folder');
  return path;
}

/**
 * Downloads `files` (default: all of the manifest's) into `dir`, Hive layout kept, hashing each on the
 * way; throws ParquetFileMismatch at the first whose SHA-256 or size differs from the manifest's. Nothing
 * reads a file before its bytes were matched. Returns the local paths.
 */
export async function fetchParquetFiles(
  storage: ArchiveStorage,
  manifest: ArchiveManifest,
  dir: string,
  files = manifest.files,
): Promise<string[]> {
  const paths: string[] = [];
  for (const file of files) {
    const path = localPath(dir, manifest, file);
    await mkdir(dirname(path), { recursive: true });
    const sha = new Sha256Meter();
    await pipeline(await storage.download(file.key), sha, createWriteStream(path));
    matchOrThrow(file, sha);
    paths.push(path);
  }
  return paths;
}

/** Hashes local copies of the manifest's files (verify-archive); throws ParquetFileMismatch on a difference. */
export async function checkLocalParquetFiles(dir: string, manifest: ArchiveManifest): Promise<string[]> {
  const paths: string[] = [];
  for (const file of manifest.files) {
    const path = localPath(dir, manifest, file);
    const sha = new Sha256Meter();
    try {
      await pipeline(createReadStream(path), sha, new Writable({ write: (_c, _e, done) => done() }));
    } catch {
      throw new ParquetFileMismatch(file.key, 'missing or unreadable');
    }
    matchOrThrow(file, sha);
    paths.push(path);
  }
  return paths;
}

function matchOrThrow(file: ManifestFile, sha: Sha256Meter): void {
  if (sha.bytes !== file.bytes || sha.sha256 !== file.sha256)
    throw new ParquetFileMismatch(file.key, `${sha.bytes} bytes, SHA-256 ${sha.sha256}`);
}

/** Rows of each Parquet file, from its footer. */
export async function parquetRowCounts(duck: DuckDbSession, paths: string[]): Promise<number[]> {
  if (paths.length === 0) return [];
  const reader = await duck.connection.runAndReadAll(
    `SELECT file_name, num_rows FROM parquet_file_metadata([${paths.map(duckString).join(', ')}])`,
  );
  const rows = new Map(reader.getRowsJS().map(([name, n]) => [String(name), Number(n)]));
  return paths.map((path) => rows.get(path) ?? -1);
}

/**
 * The rows of verified local Parquet files as the archive's NDJSON lines (JSON arrays in `columns` order,
 * parquet-columns.ts `jsonArrayLine`), in chunks: what restore COPYs in and verify-archive hashes.
 */
export async function* parquetLines(
  paths: string[],
  columns: ManifestColumn[],
  tempDir: string,
): AsyncGenerator<Buffer> {
  if (paths.length === 0) return;
  const duck = await openDuckDb(tempDir);
  try {
    const result = await duck.connection.stream(
      `SELECT ${jsonArrayLine(columns)} AS line
         FROM read_parquet([${paths.map(duckString).join(', ')}], hive_partitioning = false)`,
    );
    for await (const rows of result.yieldRows()) {
      if (rows.length > 0) yield Buffer.from(`${rows.map((row) => row[0] as string).join('\n')}\n`, 'utf8');
    }
  } finally {
    duck.close();
  }
}
