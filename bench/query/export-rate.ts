import { performance } from 'node:perf_hooks';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool, PoolClient } from 'pg';
import { EventFilters } from 'src/query/event-filters';
import { toEventView } from 'src/query/event.view';
import { EventRow, EventsRepository } from 'src/query/events.repository';
import { Statement } from './queries';

export interface ExportRun {
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSec: number;
}

/**
 * One export as ExportService streams it (server-side cursor -> event view -> NDJSON), into a sink that only
 * counts: the rate of the database read plus the serialization, without a network in between.
 */
export async function exportOnce(
  pool: Pool,
  events: EventsRepository,
  filters: EventFilters,
): Promise<ExportRun> {
  let rows = 0;
  let bytes = 0;
  const client = await pool.connect();
  const started = performance.now();
  let failure: Error | undefined;
  try {
    await pipeline(
      events.stream(client, filters),
      new Transform({
        writableObjectMode: true,
        transform(row: EventRow, _encoding, done) {
          rows++;
          done(null, `${JSON.stringify(toEventView(row))}\n`);
        },
      }),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done();
        },
      }),
    );
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    client.release(failure);
  }
  const seconds = (performance.now() - started) / 1000;
  return { rows, bytes, seconds, rowsPerSec: rows / seconds };
}

/** The statement `stream()` would run for these filters (read off the cursor, never submitted). */
export function exportStatement(events: EventsRepository, filters: EventFilters): Statement {
  const capture = { query: <T>(submittable: T) => submittable } as unknown as PoolClient;
  const stream = events.stream(capture, filters) as unknown as {
    cursor: { text: string; values: unknown[] | null };
  };
  return { sql: stream.cursor.text, params: stream.cursor.values ?? [] };
}
