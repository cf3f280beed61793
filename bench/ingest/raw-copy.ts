import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { AUDIT_EVENT_COLUMNS } from '../../src/audit/copy-format';

const COLUMNS = AUDIT_EVENT_COLUMNS.join(', ');
/** psql on PATH, or Debian's Postgres 15 client. */
const PSQL = process.env.BENCH_PSQL ?? 'psql';

export interface RawRows {
  file: string;
  rows: number;
  bytes: number;
}

/**
 * Dumps the rows the pipeline committed (`COPY ... TO`) into a file of COPY text: the raw runs load exactly
 * what the pipeline stored, byte for byte (personal data encrypted, event hashes), into the same table. The
 * rows stream from Postgres to the file: nothing is built or kept in this process (whose RSS is measured).
 */
export async function captureRows(sql: Client, file: string): Promise<RawRows> {
  const { rows } = await sql.query<{ count: string }>('SELECT count(*) FROM audit_events');
  const copy = sql.query(
    copyTo(`COPY (SELECT ${COLUMNS} FROM audit_events) TO STDOUT`),
  ) as unknown as Readable;
  await pipeline(copy, createWriteStream(file));
  return { file, rows: Number(rows[0].count), bytes: statSync(file).size };
}

/** One connection, one COPY statement streaming the file from Node (pg-copy-streams). Returns seconds. */
export async function rawCopy(sql: Client, rows: RawRows): Promise<number> {
  const started = performance.now();
  const copy = sql.query(copyFrom(`COPY audit_events (${COLUMNS}) FROM STDIN`));
  await pipeline(createReadStream(rows.file, { highWaterMark: 256 * 1024 }), copy);
  return (performance.now() - started) / 1000;
}

/**
 * `psql -c "\copy audit_events (...) FROM 'file'"`: the client the target names, one stream, timed from
 * spawn to exit (connection included: ~10 ms of runs of seconds). Returns seconds.
 */
export async function psqlCopy(databaseUrl: string, rows: RawRows): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      PSQL,
      [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-d',
        databaseUrl,
        '-c',
        `\\copy audit_events (${COLUMNS}) FROM '${rows.file}'`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`psql exited with ${code}: ${stderr.trim()}`)),
    );
  });
  return (performance.now() - started) / 1000;
}

/** True when a psql client can be run (`BENCH_PSQL` or psql on PATH). */
export async function psqlAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(PSQL, ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}
