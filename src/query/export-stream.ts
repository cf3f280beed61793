import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'pg';
import { EventFilters } from './event-filters';
import { EventsRepository, ExportFormat } from './events.repository';

/**
 * The export's bytes into `sink` (the HTTP response, or a benchmark's counter) through `counter`, on a
 * connection of `pool` (a pg Pool, or anything that hands out its clients: a replica's, see ExportService),
 * personal data decrypted by `reveal` when given. Rejects if the query fails or the sink goes away.
 */
export async function streamExport(
  pool: Pick<Pool, 'connect'>,
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

/** The code of an export's error record. */
export const EXPORT_INCOMPLETE = 'EXPORT_INCOMPLETE';

/** Where the bytes sent so far stop: inside a line, inside a quoted CSV field. */
export interface BodyCut {
  lineOpen: boolean;
  quoteOpen: boolean;
}

/**
 * The last line of an export that failed after its first bytes had gone out (the status, 200, cannot
 * change any more): NDJSON `{"error":{"code":"EXPORT_INCOMPLETE","message":...,"rows":N,"requestId":...}}`,
 * CSV a row `#error,EXPORT_INCOMPLETE,<message>` (fewer fields than the header: no reader takes it for an
 * event). A body cut inside a line (or a quoted CSV field) is closed first, so the record stands alone.
 */
export function exportErrorRecord(
  format: ExportFormat,
  error: { message: string; rows: number; requestId?: string },
  cut: BodyCut = { lineOpen: false, quoteOpen: false },
): string {
  const record =
    format === 'ndjson'
      ? JSON.stringify({ error: { code: EXPORT_INCOMPLETE, ...error } })
      : `#error,${EXPORT_INCOMPLETE},"${error.message.replace(/"/g, '""')}"`;
  const close = format === 'csv' && cut.quoteOpen ? '"\n' : cut.lineOpen ? '\n' : '';
  return `${close}${record}\n`;
}

const prematureClose = () =>
  Object.assign(new Error('the client closed the connection'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/**
 * The export's sink in front of the HTTP response: forwards with the response's backpressure, ends it on
 * success, and fails (so the pipeline stops the COPY) when the client goes away; but when the pipeline
 * fails, destroying this sink leaves the response open, so the caller can still end the body with an
 * error record instead of a reset connection.
 */
export class ResponseSink extends Writable {
  private lastByte = 10;
  private quotes = 0;
  private ended = false;

  /** `csv`: also follow the quotes, so that `cut` knows when the body stops inside a quoted field. */
  constructor(
    private readonly target: Writable,
    private readonly csv = false,
  ) {
    super();
    // Until a pipeline listens, an early close must not become an unhandled 'error'.
    this.on('error', () => undefined);
    target.once('close', () => {
      if (!this.ended) this.destroy(prematureClose());
    });
  }

  /** Where the bytes written so far stop. */
  get cut(): BodyCut {
    return { lineOpen: this.lastByte !== 10, quoteOpen: this.quotes % 2 === 1 };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.target.destroyed) return done(prematureClose());
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1];
    // '"' opens and closes a quoted field; an escaped "" inside one toggles twice.
    if (this.csv) for (let at = chunk.indexOf(34); at !== -1; at = chunk.indexOf(34, at + 1)) this.quotes++;
    if (this.target.write(chunk)) return done();
    const settle = (error?: Error) => {
      this.target.off('drain', onDrain);
      this.target.off('close', onClose);
      done(error);
    };
    const onDrain = () => settle();
    const onClose = () => settle(prematureClose());
    this.target.on('drain', onDrain);
    this.target.on('close', onClose);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.ended = true;
    this.target.end(() => done());
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
