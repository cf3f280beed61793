import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { Pool } from 'pg';
import { EventFilters } from '../../src/query/event-filters';
import { EventsRepository } from '../../src/query/events.repository';
import { RevealTransform } from '../../src/audit/personal-data/personal-data.service';
import { RowCounter, streamExport } from '../../src/query/export-stream';
import { Statement } from './queries';

export interface ExportRun {
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSec: number;
}

/**
 * One NDJSON export exactly as ExportService streams it (COPY ... TO STDOUT -> row counter), into a sink
 * that only counts bytes: the rate of the database plus the stream, without a network in between.
 */
export async function exportOnce(
  pool: Pool,
  events: EventsRepository,
  filters: EventFilters,
): Promise<ExportRun> {
  let bytes = 0;
  const counter = new RowCounter('ndjson');
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done();
    },
  });
  const started = performance.now();
  // The export path's personal-data stage too: the loaded events hold no tokens (built without encryption),
  // so this is its per-chunk scan only.
  const reveal = new RevealTransform('ndjson', async () => new Map());
  await streamExport(pool, events, filters, 'ndjson', sink, counter, reveal);
  const seconds = (performance.now() - started) / 1000;
  return { rows: counter.rows, bytes, seconds, rowsPerSec: counter.rows / seconds };
}

/** The SELECT the export's COPY runs for these filters (literals inlined, so no parameters). */
export function exportStatement(events: EventsRepository, filters: EventFilters): Statement {
  return { sql: events.exportSelect(filters, 'ndjson'), params: [] };
}
