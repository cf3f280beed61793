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
  /**
   * Estimated bytes of the events held in memory (waiting, and in a COPY or spool write not yet finished):
   * what `maxBufferBytes` bounds. See `heldBytes`.
   */
  heldBytes: number;
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

/**
 * What an event costs in memory, estimated for nearly nothing (a string's length is stored): its COPY line
 * (one byte per character: the lines are almost always Latin-1, which V8 stores one byte a character), plus
 * the object, its id, Date and field references, plus each subject key it carries. For the bench's events
 * (~1,230-character lines) it is within 2% (no keys) to 4% (1.8 keys) of the heap they retain, measured.
 */
export function heldBytes(event: QueuedEvent): number {
  return event.line.length + QUEUED_OVERHEAD_BYTES + (event.keys ? event.keys.length * KEY_BYTES : 0);
}

/** The QueuedEvent object, its id string, its Date, and the header of its line (V8, 64-bit). */
const QUEUED_OVERHEAD_BYTES = 320;
/** A SubjectKeyRecord: object, ids, base64 wrapped key. */
const KEY_BYTES = 320;

/** `heldBytes` of a batch. */
export function batchBytes(batch: readonly QueuedEvent[]): number {
  let bytes = 0;
  for (const event of batch) bytes += heldBytes(event);
  return bytes;
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
