import 'reflect-metadata';
import { hash, randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AuditEventRepository } from '../../src/audit/audit-event.repository';
import { AuditEvent, RecordAuditEventInput } from '../../src/audit/audit.types';
import { encodeEvent } from '../../src/audit/copy-format';
import { CANONICAL_COLUMNS_SQL } from '../../src/audit/integrity/event-hash';
import { merkleRoot } from '../../src/audit/integrity/seal';
import { DEV_SIGNING_KEY } from '../../src/config/environment';
import { CheckpointSigner } from '../../src/integrity/checkpoint-signer';
import { DatabaseVerifier } from '../../src/integrity/database-verifier';
import { IntegrityRepository } from '../../src/integrity/integrity.repository';
import { IntegrityService } from '../../src/integrity/integrity.service';
import { BenchDatabase, resetAuditEvents, withBenchDatabase } from '../lib/bench-db';
import { CpuMeter } from '../lib/cpu';
import { createEventBuilder, makeRecordInputs } from '../lib/events';
import { parseFlags, withPreset } from '../lib/flags';
import { writeResults } from '../lib/results';
import { rotated } from '../lib/interleave';
import { median } from '../lib/stats';
import { formatNumber, printTable } from '../lib/table';
import { encodeUnhashed, encodeUnhashedFlat, UNHASHED_COLUMNS } from './unhashed-encode';

const VERIFY_TARGET = 200_000;
const OVERHEAD_TARGET = 0.05;
const INPUT_POOL = 5000;

function readFlags() {
  const flags = parseFlags({
    events: 1_000_000,
    ingest: 200_000,
    reps: 5,
    batch: 2000,
    concurrency: 2,
    /** COPY streams of the verifier (DatabaseVerifier's default); 1 is measured beside it. */
    streams: 2,
    /** `ingest` or `verify`: only that part. */
    only: '',
    quick: false,
  });
  return flags.quick ? withPreset(flags, { events: 100_000, ingest: 50_000, reps: 3 }) : flags;
}

type Writer = (lines: string[]) => Promise<unknown>;

/**
 * The write path from record() to COMMIT, as bench/ingest measures it: each event is built by the real
 * record() path (redaction, diff, serialization), encoded, and written in batches with `concurrency`
 * COPY streams. Only the encoder and the writer differ between the variants. Events/s.
 */
async function ingest(
  meter: CpuMeter,
  inputs: RecordAuditEventInput[],
  count: number,
  encode: (e: AuditEvent) => string,
  write: Writer,
  batch: number,
  concurrency: number,
) {
  const build = createEventBuilder();
  let next = 0;
  await meter.start();
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
  const seconds = (performance.now() - started) / 1000;
  const cpu = await meter.stop();
  return {
    eventsPerSec: count / seconds,
    nodeUsPerEvent: (cpu.nodeSeconds * 1e6) / count,
    postgresUsPerEvent: cpu.postgresSeconds === null ? null : (cpu.postgresSeconds * 1e6) / count,
  };
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

const VARIANTS = ['unhashed', 'hashed', 'unhashed-flat'] as const;

/**
 * The two write paths, interleaved (the order rotates every rep) on the same database, so a drift of the
 * shared machine hits both alike. Throughput and CPU per event (this process and the Postgres backends):
 * on a busy machine CPU time is the steadier measure of what hashing costs.
 */
async function measureIngest(db: BenchDatabase, pool: Pool, flags: ReturnType<typeof readFlags>) {
  const inputs = makeRecordInputs(INPUT_POOL);
  const build = createEventBuilder();
  const sample = Array.from({ length: 20_000 }, (_, i) => build(inputs[i % inputs.length]));
  const repository = new AuditEventRepository(pool);
  const meter = new CpuMeter(db.sql);
  type Run = Awaited<ReturnType<typeof ingest>> & { variant: string; rep: number };
  const runs: Run[] = [];
  for (let rep = 1; rep <= flags.reps; rep++) {
    for (const variant of rotated(VARIANTS, rep)) {
      await resetAuditEvents(db.sql);
      const result =
        variant === 'hashed'
          ? await ingest(
              meter,
              inputs,
              flags.ingest,
              encodeEvent,
              (lines) => repository.copy(lines),
              flags.batch,
              flags.concurrency,
            )
          : await ingest(
              meter,
              inputs,
              flags.ingest,
              variant === 'unhashed' ? encodeUnhashed : encodeUnhashedFlat,
              plainCopy(pool),
              flags.batch,
              flags.concurrency,
            );
      runs.push({ variant, rep, ...result });
      console.log(
        `ingest ${variant} rep ${rep}: ${formatNumber(result.eventsPerSec)} events/s, CPU per event: node ` +
          `${result.nodeUsPerEvent.toFixed(1)} us, postgres ${result.postgresUsPerEvent?.toFixed(1) ?? '-'} us`,
      );
    }
  }
  const of = (variant: string) => runs.filter((r) => r.variant === variant);
  const med = (variant: string, pick: (r: Run) => number | null) =>
    median(
      of(variant)
        .map(pick)
        .filter((v): v is number => v !== null),
    );
  const hashed = med('hashed', (r) => r.eventsPerSec);
  const unhashed = med('unhashed', (r) => r.eventsPerSec);
  const totalCpu = (r: Run) => r.nodeUsPerEvent + (r.postgresUsPerEvent ?? 0);
  // Each rep's two runs are minutes apart at most: their ratio is less exposed to the machine's drift.
  const paired = (baseline: string) =>
    median(
      of('hashed').map((h) => 1 - h.eventsPerSec / of(baseline).find((u) => u.rep === h.rep)!.eventsPerSec),
    );
  const flat = med('unhashed-flat', (r) => r.eventsPerSec);
  return {
    events: flags.ingest,
    runs,
    medianHashedEventsPerSec: hashed,
    medianUnhashedEventsPerSec: unhashed,
    overhead: 1 - hashed / unhashed,
    medianPairedOverhead: paired('unhashed'),
    medianUnhashedFlatEventsPerSec: flat,
    overheadVsFlat: 1 - hashed / flat,
    medianPairedOverheadVsFlat: paired('unhashed-flat'),
    cpuUsPerEvent: {
      hashed: {
        node: med('hashed', (r) => r.nodeUsPerEvent),
        postgres: med('hashed', (r) => r.postgresUsPerEvent),
      },
      unhashed: {
        node: med('unhashed', (r) => r.nodeUsPerEvent),
        postgres: med('unhashed', (r) => r.postgresUsPerEvent),
      },
      unhashedFlat: {
        node: med('unhashed-flat', (r) => r.nodeUsPerEvent),
        postgres: med('unhashed-flat', (r) => r.postgresUsPerEvent),
      },
    },
    cpuOverhead: med('hashed', totalCpu) / med('unhashed', totalCpu) - 1,
    encodeUs: { hashed: encodeCostUs(sample, encodeEvent), unhashed: encodeCostUs(sample, encodeUnhashed) },
  };
}

/**
 * What verification cannot go below on this machine: Postgres printing the canonical columns of every row
 * (one backend, written to /dev/null on the server: no client at all; needs a superuser, null otherwise),
 * and in Node one SHA-256 of each row's line plus one Merkle node per event.
 */
async function verifyFloors(db: BenchDatabase, lines: Buffer[]) {
  let copyRowsPerSec: number | null = null;
  try {
    const started = performance.now();
    const { rowCount } = await db.sql.query(
      `COPY (SELECT coalesce(e.organization_id, ''), e.batch_id, encode(e.event_hash, 'hex'), ${CANONICAL_COLUMNS_SQL}
               FROM audit_events e) TO '/dev/null'`,
    );
    copyRowsPerSec = (rowCount ?? 0) / ((performance.now() - started) / 1000);
  } catch (error) {
    console.log(`COPY TO '/dev/null' not measured: ${(error as Error).message}`);
  }
  let started = performance.now();
  for (const line of lines) hash('sha256', line, 'hex');
  const sha256Us = ((performance.now() - started) * 1000) / lines.length;
  const leaves = Array.from({ length: lines.length }, (_, i) => ({
    id: String(i).padStart(8, '0'),
    hash: randomBytes(32),
  }));
  started = performance.now();
  for (let i = 0; i < leaves.length; i += 100) merkleRoot(leaves.slice(i, i + 100));
  const merkleUsPerLeaf = ((performance.now() - started) * 1000) / leaves.length;
  return { copyRowsPerSec, sha256Us, merkleUsPerLeaf, lineBytes: lines[0]?.length ?? 0 };
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
  const meter = new CpuMeter(db.sql);
  const variants = [...new Set([flags.streams, 1])];
  const runs: Array<{
    streams: number;
    rep: number;
    eventsPerSec: number;
    nodeUsPerEvent: number;
    postgresUsPerEvent: number | null;
  }> = [];
  let report;
  for (let rep = 1; rep <= flags.reps; rep++) {
    for (const streams of rotated(variants, rep)) {
      const verifier = new DatabaseVerifier(new IntegrityRepository(pool), signer.publicKeys, streams);
      await meter.start();
      const started = performance.now();
      report = await verifier.verify({});
      const seconds = (performance.now() - started) / 1000;
      const cpu = await meter.stop();
      if (!report.ok || report.checkedEvents !== flags.events)
        throw new Error(`verification failed: ${JSON.stringify(report.firstBroken)}`);
      const run = {
        streams,
        rep,
        eventsPerSec: report.checkedEvents / seconds,
        nodeUsPerEvent: (cpu.nodeSeconds * 1e6) / report.checkedEvents,
        postgresUsPerEvent:
          cpu.postgresSeconds === null ? null : (cpu.postgresSeconds * 1e6) / report.checkedEvents,
      };
      runs.push(run);
      console.log(
        `verify ${streams} stream(s) rep ${rep}: ${formatNumber(report.checkedEvents)} events in ${seconds.toFixed(2)} s, ` +
          `CPU per event: node ${run.nodeUsPerEvent.toFixed(1)} us, postgres ${run.postgresUsPerEvent?.toFixed(1) ?? '-'} us`,
      );
    }
  }
  const sample = Array.from({ length: 100_000 }, (_, i) =>
    Buffer.from(encodeEvent(build(inputs[i % inputs.length]))),
  );
  const floors = await verifyFloors(db, sample);
  const of = (streams: number) => runs.filter((r) => r.streams === streams);
  return {
    events: flags.events,
    chains: report!.chains.length,
    loadSeconds,
    runs,
    medianEventsPerSec: median(of(flags.streams).map((r) => r.eventsPerSec)),
    medianOneStreamEventsPerSec: median(of(1).map((r) => r.eventsPerSec)),
    cpuUsPerEvent: {
      node: median(of(flags.streams).map((r) => r.nodeUsPerEvent)),
      postgres: median(of(flags.streams).flatMap((r) => r.postgresUsPerEvent ?? [])),
    },
    floors,
  };
}

const us = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(1));
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function ingestRows(r: Awaited<ReturnType<typeof measureIngest>>): string[][] {
  const cpu = r.cpuUsPerEvent;
  return [
    ['ingest with hashes + seals, events/s', formatNumber(r.medianHashedEventsPerSec), '-', '-'],
    ['ingest without, events/s', formatNumber(r.medianUnhashedEventsPerSec), '-', '-'],
    [
      'hashing overhead on ingest (medians)',
      pct(r.overhead),
      '< 5%',
      r.overhead < OVERHEAD_TARGET ? 'PASS' : 'FAIL',
    ],
    ['  same, median of per-rep ratios', pct(r.medianPairedOverhead), '-', '-'],
    [
      'CPU per event, hashed / plain: node (us)',
      `${us(cpu.hashed.node)} / ${us(cpu.unhashed.node)}`,
      '-',
      '-',
    ],
    ['  postgres backends (us)', `${us(cpu.hashed.postgres)} / ${us(cpu.unhashed.postgres)}`, '-', '-'],
    ['  CPU overhead (node + postgres)', pct(r.cpuOverhead), '-', '-'],
    ['ingest without, lines flattened, events/s', formatNumber(r.medianUnhashedFlatEventsPerSec), '-', '-'],
    [
      '  overhead against it (medians / per-rep ratios)',
      `${pct(r.overheadVsFlat)} / ${pct(r.medianPairedOverheadVsFlat)}`,
      '-',
      '-',
    ],
    [
      '  its CPU per event: node / postgres (us)',
      `${us(cpu.unhashedFlat.node)} / ${us(cpu.unhashedFlat.postgres)}`,
      '-',
      '-',
    ],
    [
      'encode per event, hashed / plain (us)',
      `${us(r.encodeUs.hashed)} / ${us(r.encodeUs.unhashed)}`,
      '-',
      '-',
    ],
  ];
}

function verifyRows(r: Awaited<ReturnType<typeof measureVerify>>, streams: number): string[][] {
  const f = r.floors;
  return [
    [
      `verification, events/s (${streams} COPY streams)`,
      formatNumber(r.medianEventsPerSec),
      `>= ${formatNumber(VERIFY_TARGET)}`,
      r.medianEventsPerSec >= VERIFY_TARGET ? 'PASS' : 'FAIL',
    ],
    ['  same, 1 COPY stream', formatNumber(r.medianOneStreamEventsPerSec), '-', '-'],
    [
      '  CPU per event: node / postgres (us)',
      `${us(r.cpuUsPerEvent.node)} / ${us(r.cpuUsPerEvent.postgres)}`,
      '-',
      '-',
    ],
    [
      'floor: postgres prints the rows, 1 backend, rows/s',
      f.copyRowsPerSec === null ? '-' : formatNumber(f.copyRowsPerSec),
      '-',
      '-',
    ],
    [
      `floor: SHA-256 of a ${f.lineBytes}-byte line / Merkle per leaf (us)`,
      `${f.sha256Us.toFixed(2)} / ${f.merkleUsPerLeaf.toFixed(2)}`,
      '-',
      '-',
    ],
  ];
}

async function main(): Promise<void> {
  const flags = readFlags();
  const loadAtStart = loadavg().map((v) => Number(v.toFixed(2)));
  await withBenchDatabase(async (db) => {
    const pool = new Pool({ connectionString: db.url, max: flags.concurrency + 1 });
    try {
      const ingestResult = flags.only === 'verify' ? null : await measureIngest(db, pool, flags);
      const verifyResult = flags.only === 'ingest' ? null : await measureVerify(db, pool, flags);
      printTable(
        'bench/integrity',
        ['measure', 'value', 'target', 'result'],
        [
          ...(verifyResult ? verifyRows(verifyResult, flags.streams) : []),
          ...(ingestResult ? ingestRows(ingestResult) : []),
        ],
      );
      console.log(
        `load average at start ${loadAtStart.join(' ')}, at end ${loadavg()
          .map((v) => v.toFixed(2))
          .join(' ')}`,
      );
      const file = writeResults(flags.quick ? 'integrity-quick' : 'integrity', {
        flags,
        loadAverageAtStart: loadAtStart,
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
