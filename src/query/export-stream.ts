import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'pg';
import { EventFilters } from './event-filters';
import { EventsRepository, ExportFormat } from './events.repository';

/**
 * The export's bytes into `sink` (the HTTP response, or a benchmark's counter) through `counter`, on a
 * connection of `pool`, personal data decrypted by `reveal` when given. Rejects if the query fails or the
 * sink goes away.
 */
export async function streamExport(
  pool: Pool,
  events: EventsRepository,
  filters: EventFilters,
  format: ExportFormat,
  sink: Writable,
  counter = new RowCounter(format),
  reveal?: Transform,
): Promise<void> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    const rows = events.copyExport(client, filters, format) as Readable;
    await (reveal ? pipeline(rows, reveal, counter, sink) : pipeline(rows, counter, sink));
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    // A connection interrupted mid-COPY is not reusable: hand back an error so the pool discards it.
    client.release(failure);
  }
}

/**
 * Counts the rows passing through (line ends; for CSV only those outside quoted fields, where a value may
 * hold a newline, and not the header) and calls `onEnd` once everything has been read.
 */
export class RowCounter extends Transform {
  private lines = 0;
  private quoted = false;

  constructor(
    private readonly format: ExportFormat,
    private readonly onEnd?: (rows: number) => void,
  ) {
    super();
  }

  get rows(): number {
    return this.format === 'csv' ? Math.max(0, this.lines - 1) : this.lines;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.format === 'ndjson') {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) this.lines++;
    } else {
      for (const byte of chunk) {
        if (byte === 34)
          this.quoted = !this.quoted; // '"'; an escaped "" toggles twice
        else if (byte === 10 && !this.quoted) this.lines++;
      }
    }
    this.push(chunk);
    done();
  }

  override _flush(done: () => void): void {
    this.onEnd?.(this.rows);
    done();
  }
}
