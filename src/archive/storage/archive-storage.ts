import { Readable, Writable } from 'node:stream';

/** An object being written: pipe the bytes into `stream`, then await `done` (the object is complete). */
export interface ObjectUpload {
  stream: Writable;
  done: Promise<void>;
}

/**
 * Where cold archives live: a directory (`file:///path`) or an S3-compatible bucket (`s3://bucket/prefix`).
 * Keys are relative (`audit_events_p2025_01/<archive id>/data.ndjson.gz`); each store adds its root.
 */
export interface ArchiveStorage {
  /** The ARCHIVE_URL this store writes to (recorded with each archive). */
  readonly url: string;
  /** Writes an object; it becomes visible under `key` only once complete. */
  upload(key: string): ObjectUpload;
  /** Streams an object; rejects with ArchiveObjectNotFound when it does not exist. */
  download(key: string): Promise<Readable>;
  /** Deletes an object; deleting one that does not exist is not an error (expiry is re-runnable). */
  delete(key: string): Promise<void>;
}

export class ArchiveObjectNotFound extends Error {
  constructor(readonly key: string) {
    super(`archive object not found: ${key}`);
    this.name = 'ArchiveObjectNotFound';
  }
}

export async function putText(storage: ArchiveStorage, key: string, text: string): Promise<void> {
  const upload = storage.upload(key);
  upload.stream.end(Buffer.from(text, 'utf8'));
  await upload.done;
}

export async function getText(storage: ArchiveStorage, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.download(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
