import type { AuditEvent } from './audit.types';
import { encodeEvent } from './copy-format';
import type { SubjectKeyRecord } from './personal-data/subject-keyring';

/**
 * The writer's shared vocabulary, in a file of its own so the writer and the delivery paths (batch COPY,
 * disk spool, Redis stream, codec) both import it without importing each other.
 */

/**
 * An event as the buffer holds it: already encoded to its COPY line (one flat string instead of an object
 * tree: a third of the memory and nothing for the GC to walk), plus what the writer and listeners need.
 */
export interface QueuedEvent {
  id: string;
  occurredAt: Date;
  organizationId: string | null;
  resourceType: string | null;
  action: string;
  eventType: string;
  severity: string;
  line: string;
  /** When the pipeline accepted it (epoch ms): the age of what waits, whatever `occurredAt` says. */
  enqueuedAt: number;
  /** Subject keys of its personal data not yet known stored: stored in the same transaction as the event. */
  keys?: SubjectKeyRecord[];
}

export type DropReason = 'high_water' | 'spool_full' | 'undeliverable';

export interface AuditWriterStats {
  captured: number;
  flushed: number;
  /** Events not recorded: past the high-water mark (non-critical), or refused by a full spool. */
  dropped: number;
  /** `dropped` by reason: `high_water` (buffer or stream full), `spool_full`, `undeliverable` (no path took it). */
  droppedByReason: Record<DropReason, number>;
  poisoned: number;
  /**
   * Poisoned events stored in the `audit_dead_letters` table, by the SQLSTATE Postgres refused them with
   * (events whose dead-letter row could not be written are in `poisoned` only, kept in the spool's file).
   */
  deadLettered: Record<string, number>;
  /** Events whose caller-supplied time was beyond the future horizon: stored at server time (`record()`). */
  clamped: number;
  failedBatches: number;
  /** Events waiting for a COPY in memory (buffer and failed batches); this is what the high-water mark bounds. */
  pending: number;
  /** Events in a COPY (or a spool write) that has not finished yet. */
  inFlight: number;
  /** Events waiting on disk in the spool (Postgres was unavailable). */
  spooled: number;
  spoolBytes: number;
  /** How long the oldest event not yet committed (anywhere) has been held; null when none. */
  oldestPendingMs: number | null;
}

/** One COPY attempt (a batch, a retry or a piece of a split batch), as reported to `onWriteAttempt`. */
export interface WriteAttempt {
  events: number;
  durationMs: number;
  /** True on the idempotent path (replay of a batch that may be stored, or a split to isolate a bad event). */
  retry: boolean;
  /** Null when the batch committed; else the Postgres SQLSTATE (or Node error code), '' when none. */
  errorCode: string | null;
}

/** An event Postgres refused for its data, isolated from its batch. */
export interface PoisonedEvent {
  event: QueuedEvent;
  /** SQLSTATE, table and constraint: what a log line or a dead-letter row may say (never the data). */
  error: string;
  /** The SQLSTATE alone ('' when the error had none). */
  code: string;
}

/**
 * What the other writers of the table (Redis stream consumers and producer) report to the writer: same
 * counters, same listeners, and its spool as their fallback.
 */
export interface WriterSink {
  reportAttempt(attempt: WriteAttempt): void;
  reportFlushed(events: readonly QueuedEvent[]): void;
  reportPoisoned(count: number): void;
  reportCaptured(count: number): void;
  /** Keeps isolated events in the dead-letter table (logged by id, counted); false when lost. Never throws. */
  deadLetter(poisoned: readonly PoisonedEvent[]): Promise<boolean>;
  spoolNow(events: QueuedEvent[]): Promise<boolean>;
}

/** An event as the writer holds it, from the event built by capture. */
export function toQueued(event: AuditEvent, keys: SubjectKeyRecord[] = []): QueuedEvent {
  const queued: QueuedEvent = {
    id: event.id,
    occurredAt: event.occurredAt,
    organizationId: event.organizationId,
    resourceType: event.resourceType,
    action: event.action,
    eventType: event.eventType,
    severity: event.severity,
    line: encodeEvent(event),
    enqueuedAt: Date.now(),
  };
  if (keys.length > 0) queued.keys = keys;
  return queued;
}
