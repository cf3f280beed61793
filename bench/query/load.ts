import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { AUDIT_EVENT_COLUMNS, encodeEvent } from '../../src/audit/copy-format';
import { monthlyPartition } from '../../src/partitions/partition-naming';
import { PartitionRepository } from '../../src/partitions/partition.repository';
import { AuditHistory } from '../lib/event-history';
import { formatNumber } from '../lib/table';

const COPY_SQL = `COPY audit_events (${AUDIT_EVENT_COLUMNS.join(', ')}) FROM STDIN`;
const CHUNK_BYTES = 256 * 1024;
/** Events per COPY statement (one transaction each): a failure loses one batch, not the load. */
const BATCH_EVENTS = 50_000;
const PROGRESS_EVERY_MS = 5_000;
/** Projections of the load time are trusted only after this long. */
const PROJECT_AFTER_MS = 60_000;
const SAMPLED_EVENTS = 2_000;

export interface LoadOptions {
  events: number;
  streams: number;
  /** Abort when the projected load time exceeds this (minutes). */
  maxMinutes: number;
}

export interface LoadResult {
  events: number;
  bytes: number;
  seconds: number;
  eventsPerSec: number;
  /** Events kept aside (by reservoir sampling) for the by-id lookups. */
  sample: Array<{ id: string; organizationId: string }>;
}

/** The monthly partitions from `from` up to the current month (the migration made the current one and later). */
export async function createMonthlyPartitions(
  dataSource: DataSource,
  from: Date,
  now: Date,
): Promise<string[]> {
  const partitions = new PartitionRepository(dataSource);
  const names: string[] = [];
  for (let at = from; at <= now; at = monthlyPartition(at).to) {
    const range = monthlyPartition(at);
    await partitions.create(dataSource.manager, range);
    names.push(range.name);
  }
  return names;
}

/**
 * COPYs the whole history through `streams` connections, each taking the next batch of events (in time
 * order, so each partition's heap ends up roughly in time order, as live ingestion leaves it). Prints a
 * progress line every few seconds; aborts when the load would take longer than `maxMinutes`.
 */
export async function loadHistory(
  url: string,
  history: AuditHistory,
  options: LoadOptions,
): Promise<LoadResult> {
  const started = performance.now();
  const batches = Math.ceil(options.events / BATCH_EVENTS);
  let nextBatch = 0;
  let sent = 0;
  let bytes = 0;
  let seen = 0;
  let aborted: Error | null = null;
  let failed = false;
  const sample: LoadResult['sample'] = [];

  function* chunks(start: number, end: number): Generator<string> {
    let chunk = '';
    let rows = 0;
    for (const event of history.events(start, end)) {
      if (aborted) throw aborted;
      chunk += encodeEvent(event);
      rows++;
      // Reservoir sampling: every event has the same chance of being looked up later.
      const slot = seen < SAMPLED_EVENTS ? seen : Math.floor(Math.random() * (seen + 1));
      if (slot < SAMPLED_EVENTS) sample[slot] = { id: event.id, organizationId: event.organizationId! };
      seen++;
      if (chunk.length >= CHUNK_BYTES) {
        yield chunk;
        sent += rows;
        bytes += chunk.length;
        chunk = '';
        rows = 0;
      }
    }
    if (chunk) yield chunk;
    sent += rows;
    bytes += chunk.length;
  }

  const stream = async () => {
    const client = new Client({ connectionString: url, application_name: 'audit-bench-load' });
    await client.connect();
    try {
      while (nextBatch < batches && !aborted && !failed) {
        const batch = nextBatch++;
        const start = batch * BATCH_EVENTS;
        const end = Math.min(options.events, start + BATCH_EVENTS);
        await pipeline(Readable.from(chunks(start, end)), client.query(copyFrom(COPY_SQL))).catch((error) => {
          failed = true;
          throw error;
        });
      }
    } finally {
      await client.end();
    }
  };

  let last = { at: started, sent: 0 };
  const progress = setInterval(() => {
    const now = performance.now();
    const rate = (sent - last.sent) / ((now - last.at) / 1000);
    const average = sent / ((now - started) / 1000);
    const etaSeconds = (options.events - sent) / average;
    last = { at: now, sent };
    console.log(
      `  load ${formatNumber(sent)} / ${formatNumber(options.events)} (${((100 * sent) / options.events).toFixed(1)}%)` +
        `  ${formatNumber(rate)} ev/s now, ${formatNumber(average)} avg  ETA ${formatDuration(etaSeconds)}`,
    );
    const projected = (now - started) / 1000 + etaSeconds;
    if (now - started >= PROJECT_AFTER_MS && projected > options.maxMinutes * 60) {
      aborted = new Error(
        `Load aborted: projected ${formatDuration(projected)} for ${formatNumber(options.events)} events ` +
          `(${formatNumber(average)} ev/s) exceeds --max-load-minutes ${options.maxMinutes}`,
      );
    }
  }, PROGRESS_EVERY_MS);
  try {
    // allSettled: when one stream fails, the other still finishes (or aborts) before its connection closes.
    const outcomes = await Promise.allSettled(Array.from({ length: options.streams }, stream));
    if (aborted) throw aborted;
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - started) / 1000;
  return { events: sent, bytes, seconds, eventsPerSec: sent / seconds, sample: sample.filter(Boolean) };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
