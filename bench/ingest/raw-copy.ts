import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { RecordAuditEventInput } from '../../src/audit/audit.types';
import { AUDIT_EVENT_COLUMNS, encodeEvent } from '../../src/audit/copy-format';
import { createEventBuilder } from '../lib/events';

const WRITE_CHUNK = 1024 * 1024;

export interface RawRows {
  file: string;
  rows: number;
  bytes: number;
}

/**
 * Encodes `count` events (the inputs, cycled, through the real record() path) once, into a file of COPY
 * text. The raw runs stream that file: encoding is not timed and the rows do not sit in this process's memory
 * (which would inflate the RSS measured during the pipeline runs).
 */
export function writeRawRows(file: string, inputs: readonly RecordAuditEventInput[], count: number): RawRows {
  const build = createEventBuilder();
  const fd = openSync(file, 'w');
  let bytes = 0;
  let chunk = '';
  try {
    for (let i = 0; i < count; i++) {
      chunk += encodeEvent(build(inputs[i % inputs.length]));
      if (chunk.length >= WRITE_CHUNK || i === count - 1) {
        bytes += writeSync(fd, chunk);
        chunk = '';
      }
    }
  } finally {
    closeSync(fd);
  }
  return { file, rows: count, bytes };
}

/** The ceiling: one connection, one COPY statement streaming the pre-encoded rows. Returns seconds. */
export async function rawCopy(sql: Client, rows: RawRows): Promise<number> {
  const started = performance.now();
  const copy = sql.query(copyFrom(`COPY audit_events (${AUDIT_EVENT_COLUMNS.join(', ')}) FROM STDIN`));
  await pipeline(createReadStream(rows.file, { highWaterMark: 256 * 1024 }), copy);
  return (performance.now() - started) / 1000;
}
