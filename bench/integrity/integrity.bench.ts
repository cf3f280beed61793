import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AuditEventRepository } from 'src/audit/audit-event.repository';
import { AuditEvent, RecordAuditEventInput } from 'src/audit/audit.types';
import { encodeEvent } from 'src/audit/copy-format';
import { DEV_SIGNING_KEY } from 'src/common/config/environment';
import { CheckpointSigner } from 'src/integrity/checkpoint-signer';
import { DatabaseVerifier } from 'src/integrity/database-verifier';
import { IntegrityRepository } from 'src/integrity/integrity.repository';
import { IntegrityService } from 'src/integrity/integrity.service';
import { BenchDatabase, resetAuditEvents, withBenchDatabase } from '../lib/bench-db';
import { createEventBuilder, makeRecordInputs } from '../lib/events';
import { parseFlags, withPreset } from '../lib/flags';
import { writeResults } from '../lib/results';
import { median } from '../lib/stats';
import { formatNumber, printTable } from '../lib/table';
import { encodeUnhashed, UNHASHED_COLUMNS } from './unhashed-encode';

const VERIFY_TARGET = 200_000;
const OVERHEAD_TARGET = 0.05;
const INPUT_POOL = 5000;

function readFlags() {
  const flags = parseFlags({
    events: 1_000_000,
    ingest: 200_000,
    reps: 3,
    batch: 2000,
    concurrency: 2,
    quick: false,
  });
  return flags.quick ? withPreset(flags, { events: 100_000, ingest: 50_000, reps: 2 }) : flags;
}

type Writer = (lines: string[]) => Promise<unknown>;

/**
 * The write path from record() to COMMIT, as bench/ingest measures it: each event is built by the real
 * record() path (redaction, diff, serialization), encoded, and written in batches with `concurrency`
 * COPY streams. Only the encoder and the writer differ between the variants. Events/s.
 */
async function ingest(
  inputs: RecordAuditEventInput[],
  count: number,
  encode: (e: AuditEvent) => string,
  write: Writer,
  batch: number,
  concurrency: number,
) {
  const build = createEventBuilder();
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const end = Math.min(count, next + batch);
      const lines: string[] = [];
      for (let i = next; i < end; i++) lines.push(encode(build(inputs[i % inputs.length])));
      next = end;
      await write(lines);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

/** The baseline write: one transaction, one COPY, no seals. */
function plainCopy(pool: Pool): Writer {
  return async (lines) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await pipeline(
        Readable.from([lines.join('')]),
        client.query(copyFrom(`COPY audit_events (${UNHASHED_COLUMNS.join(', ')}) FROM STDIN`)),
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
}

/** CPU cost of encoding alone, per event (microseconds): the part hashing adds to on the request side. */
function encodeCostUs(events: AuditEvent[], encode: (e: AuditEvent) => string): number {
  const sample = events.slice(0, Math.min(events.length, 50_000));
  let bytes = 0;
  const started = performance.now();
  for (const event of sample) bytes += encode(event).length;
  if (bytes === 0) throw new Error('nothing encoded');
  return ((performance.now() - started) * 1000) / sample.length;
}

async function measureIngest(db: BenchDatabase, pool: Pool, flags: ReturnType<typeof readFlags>) {
  const inputs = makeRecordInputs(INPUT_POOL);
  const build = createEventBuilder();
  const sample = Array.from({ length: 20_000 }, (_, i) => build(inputs[i % inputs.length]));
  const repository = new AuditEventRepository(pool);
  const runs: Array<{ variant: string; rep: number; eventsPerSec: number }> = [];
  for (let rep = 0; rep < flags.reps; rep++) {
    // Alternating order, so neither variant always runs on a warmer machine.
    const order = rep % 2 ? ['hashed', 'unhashed'] : ['unhashed', 'hashed'];
    for (const variant of order) {
      await resetAuditEvents(db.sql);
      const eventsPerSec =
        variant === 'hashed'
          ? await ingest(
              inputs,
              flags.ingest,
              encodeEvent,
              (lines) => repository.copy(lines),
              flags.batch,
              flags.concurrency,
            )
          : await ingest(
              inputs,
              flags.ingest,
              encodeUnhashed,
              plainCopy(pool),
              flags.batch,
              flags.concurrency,
            );
      runs.push({ variant, rep, eventsPerSec });
      console.log(`ingest ${variant} rep ${rep + 1}: ${formatNumber(eventsPerSec)} events/s`);
    }
  }
  const hashed = median(runs.filter((r) => r.variant === 'hashed').map((r) => r.eventsPerSec));
  const unhashed = median(runs.filter((r) => r.variant === 'unhashed').map((r) => r.eventsPerSec));
  return {
    events: flags.ingest,
    runs,
    medianHashedEventsPerSec: hashed,
    medianUnhashedEventsPerSec: unhashed,
    overhead: 1 - hashed / unhashed,
    encodeUs: { hashed: encodeCostUs(sample, encodeEvent), unhashed: encodeCostUs(sample, encodeUnhashed) },
  };
}

async function measureVerify(db: BenchDatabase, pool: Pool, flags: ReturnType<typeof readFlags>) {
  await resetAuditEvents(db.sql);
  const repository = new AuditEventRepository(pool);
  const inputs = makeRecordInputs(INPUT_POOL);
  const build = createEventBuilder();
  const loadStarted = performance.now();
  for (let i = 0; i < flags.events; i += flags.batch) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(flags.events, i + flags.batch); j++)
      lines.push(encodeEvent(build(inputs[j % inputs.length])));
    await repository.copy(lines);
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const signer = new CheckpointSigner(DEV_SIGNING_KEY);
  const service = new IntegrityService(new Pool({ connectionString: db.url, max: 1 }), signer);
  await service.chainAndSign();
  await service.onApplicationShutdown();
  await db.sql.query('VACUUM ANALYZE audit_events');
  const verifier = new DatabaseVerifier(new IntegrityRepository(pool), signer.publicKeys);
  const runs: number[] = [];
  let report;
  for (let rep = 0; rep < flags.reps; rep++) {
    const started = performance.now();
    report = await verifier.verify({});
    const seconds = (performance.now() - started) / 1000;
    if (!report.ok || report.checkedEvents !== flags.events)
      throw new Error(`verification failed: ${JSON.stringify(report.firstBroken)}`);
    runs.push(report.checkedEvents / seconds);
    console.log(
      `verify rep ${rep + 1}: ${formatNumber(report.checkedEvents)} events in ${seconds.toFixed(2)} s`,
    );
  }
  return {
    events: flags.events,
    chains: report!.chains.length,
    loadSeconds,
    runs,
    medianEventsPerSec: median(runs),
  };
}

async function main(): Promise<void> {
  const flags = readFlags();
  await withBenchDatabase(async (db) => {
    const pool = new Pool({ connectionString: db.url, max: flags.concurrency + 1 });
    try {
      const ingestResult = await measureIngest(db, pool, flags);
      const verifyResult = await measureVerify(db, pool, flags);
      printTable(
        'bench/integrity',
        ['measure', 'value', 'target', 'result'],
        [
          [
            'verification, events/s',
            formatNumber(verifyResult.medianEventsPerSec),
            `>= ${formatNumber(VERIFY_TARGET)}`,
            verifyResult.medianEventsPerSec >= VERIFY_TARGET ? 'PASS' : 'FAIL',
          ],
          [
            'ingest with hashes + seals, events/s',
            formatNumber(ingestResult.medianHashedEventsPerSec),
            '-',
            '-',
          ],
          ['ingest without, events/s', formatNumber(ingestResult.medianUnhashedEventsPerSec), '-', '-'],
          [
            'hashing overhead on ingest',
            `${(ingestResult.overhead * 100).toFixed(1)}%`,
            '< 5%',
            ingestResult.overhead < OVERHEAD_TARGET ? 'PASS' : 'FAIL',
          ],
          [
            'encode per event, hashed / plain (us)',
            `${ingestResult.encodeUs.hashed.toFixed(1)} / ${ingestResult.encodeUs.unhashed.toFixed(1)}`,
            '-',
            '-',
          ],
        ],
      );
      const file = writeResults(flags.quick ? 'integrity-quick' : 'integrity', {
        flags,
        targets: { verifyEventsPerSec: VERIFY_TARGET, ingestOverhead: OVERHEAD_TARGET },
        ingest: ingestResult,
        verify: verifyResult,
      });
      console.log(`results: ${file}`);
    } finally {
      await pool.end();
    }
  });
}

void main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
