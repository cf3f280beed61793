import { mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { appendFile, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueuedEvent } from '../queued-event';
import { deserializeQueued, serializeQueued } from './queued-event.codec';
import { lockSpoolDirectory, SpoolLock } from './spool-lock';

export type SpoolFsync = 'always' | 'never';

export interface SpoolOptions {
  directory: string;
  /** Past this size, `append` refuses non-forced writes (the caller counts the loss or fails the request). */
  maxBytes: number;
  /** `always`: each segment (and the directory entry) is fsynced before `append` resolves. */
  fsync: SpoolFsync;
}

export interface SpoolSegment {
  name: string;
  events: QueuedEvent[];
  /** The batch may already be in Postgres (a write attempt failed without a clear answer): replay idempotently. */
  idempotent: boolean;
  /** Lines that could not be read back (a torn write at a crash): never silently skipped by the caller. */
  unreadable: string[];
}

interface SegmentInfo {
  name: string;
  bytes: number;
  events: number;
  oldestEnqueuedAt: number;
}

// <sequence>-<oldest enqueuedAt>-<events>-<i|p>.spool: what stats() needs, without opening the file.
const SEGMENT = /^(\d{12})-(\d+)-(\d+)-([ip])\.spool$/;

/**
 * A local, append-only spool of audit events: where events wait while Postgres (or Redis) is unavailable.
 * Each batch is one segment file, written once and never modified, then deleted once the batch is
 * committed; segments are replayed oldest first, so events reach Postgres in the order they were spooled.
 * A crash between commit and delete replays a segment: segments that may already be stored are replayed
 * idempotently (by event id).
 */
export class DiskSpool {
  private readonly segments: SegmentInfo[] = [];
  /** The segment an earlier process may have committed before it died (see the constructor). */
  private readonly recovered = new Set<string>();
  private sequence = 0;
  /** The segment after the one `oldest` returned, being read ahead. */
  private prefetched?: { name: string; segment: Promise<SpoolSegment | null> };
  private bytes = 0;
  private events = 0;

  constructor(private readonly options: SpoolOptions) {
    mkdirSync(options.directory, { recursive: true, mode: 0o700 });
    this.lock();
    for (const name of readdirSync(options.directory).sort()) {
      // A segment still under its temporary name was never acknowledged to anyone: a torn write.
      if (name.endsWith('.spool.tmp')) unlinkSync(join(options.directory, name));
      const match = SEGMENT.exec(name);
      if (!match) continue;
      const bytes = statSync(join(options.directory, name)).size;
      const info = { name, bytes, events: Number(match[3]), oldestEnqueuedAt: Number(match[2]) };
      this.segments.push(info);
      this.bytes += bytes;
      this.events += info.events;
      this.sequence = Math.max(this.sequence, Number(match[1]));
    }
    // Segments are replayed one at a time, oldest first, and deleted right after their commit: of those an
    // earlier process left, only the oldest can have been committed already (it died between commit and
    // delete). That one is replayed idempotently; the others were never attempted (or are marked `i`).
    if (this.segments[0]) this.recovered.add(this.segments[0].name);
    this.recoveredSegments = this.segments.length;
  }

  /** Releases the directory for the next process (at shutdown). Segments stay for it to replay. */
  close(): void {
    this.directoryLock?.release();
  }

  private directoryLock?: SpoolLock;

  /** One process per spool directory (see spool-lock.ts): two would replay each other's segments. */
  private lock(): void {
    this.directoryLock = lockSpoolDirectory(this.options.directory);
  }

  /** How many segments were left by an earlier process. */
  readonly recoveredSegments: number;

  get directory(): string {
    return this.options.directory;
  }

  stats(): { segments: number; events: number; bytes: number; oldestEnqueuedAt: number | null } {
    return {
      segments: this.segments.length,
      events: this.events,
      bytes: this.bytes,
      oldestEnqueuedAt: this.segments[0]?.oldestEnqueuedAt ?? null,
    };
  }

  isEmpty(): boolean {
    return this.segments.length === 0;
  }

  hasRoom(): boolean {
    return this.bytes < this.options.maxBytes;
  }

  /**
   * Writes a batch as a new segment; resolves once it is on disk (fsynced with `fsync: always`). Returns
   * false, writing nothing, when the spool is full and `force` is not set (critical events force).
   */
  async append(batch: readonly QueuedEvent[], idempotent: boolean, force = false): Promise<boolean> {
    if (batch.length === 0) return true;
    if (!force && !this.hasRoom()) return false;
    const oldest = Math.min(...batch.map((event) => event.enqueuedAt));
    const sequence = ++this.sequence;
    const name = `${String(sequence).padStart(12, '0')}-${oldest}-${batch.length}-${idempotent ? 'i' : 'p'}.spool`;
    const text = batch.map(serializeQueued).join('\n') + '\n';
    // Written under a temporary name and renamed: a segment is either whole or absent.
    const path = join(this.options.directory, name);
    const temporary = `${path}.tmp`;
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(text);
      if (this.options.fsync === 'always') await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
    if (this.options.fsync === 'always') await this.syncDirectory();
    const bytes = Buffer.byteLength(text);
    this.segments.push({ name, bytes, events: batch.length, oldestEnqueuedAt: oldest });
    this.bytes += bytes;
    this.events += batch.length;
    return true;
  }

  /** The oldest segment, read back; null when the spool is empty. */
  async oldest(): Promise<SpoolSegment | null> {
    const info = this.segments[0];
    if (!info) return null;
    const prefetched = this.prefetched?.name === info.name ? await this.prefetched.segment : null;
    const segment = prefetched ?? (await this.read(info));
    // The next segment is read (and parsed) while the caller writes this one: a replay keeps Postgres busy
    // instead of waiting for the disk and the parse between batches. Segments are never modified once
    // written, so reading ahead is safe; a failed read ahead is simply read again.
    const next = this.segments[1];
    this.prefetched = next ? { name: next.name, segment: this.read(next).catch(() => null) } : undefined;
    return segment;
  }

  private async read(info: SegmentInfo): Promise<SpoolSegment> {
    const text = await readFile(join(this.options.directory, info.name), 'utf8');
    const events: QueuedEvent[] = [];
    const unreadable: string[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        events.push(deserializeQueued(line));
      } catch {
        unreadable.push(line);
      }
    }
    const idempotent = this.recovered.has(info.name) || info.name.endsWith('-i.spool');
    return { name: info.name, events, idempotent, unreadable };
  }

  /** Deletes a segment once its events are committed (or set aside). */
  async remove(name: string): Promise<void> {
    const index = this.segments.findIndex((segment) => segment.name === name);
    if (index < 0) return;
    await unlink(join(this.options.directory, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    const [info] = this.segments.splice(index, 1);
    this.recovered.delete(name);
    this.bytes -= info.bytes;
    this.events -= info.events;
  }

  /** Keeps events that could not be written (poison, unreadable lines) with the reason, for an operator. */
  async setAside(records: ReadonlyArray<{ line: string; error: string }>): Promise<void> {
    if (records.length === 0) return;
    const text = records.map((record) => JSON.stringify(record)).join('\n') + '\n';
    await appendFile(join(this.options.directory, 'dead-letter.ndjson'), text, { mode: 0o600 });
  }

  private async syncDirectory(): Promise<void> {
    const directory = await open(this.options.directory, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}
