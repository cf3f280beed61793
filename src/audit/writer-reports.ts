import { Logger } from '@nestjs/common';
import { describeError } from '../common/database/safe-query.logger';
import type { AuditWriterStats, DropReason, QueuedEvent, WriteAttempt } from './queued-event';

type Counters = Pick<
  AuditWriterStats,
  'captured' | 'flushed' | 'dropped' | 'poisoned' | 'clamped' | 'failedBatches'
>;

/**
 * The writer's running totals and its listeners: what every writer of the table (the buffer's batches, the
 * spool replay, the Redis stream consumers) reports to, so one set of counters and metrics covers them all.
 */
export class WriterReports {
  private readonly logger = new Logger('AuditWriter');
  readonly counters: Counters = {
    captured: 0,
    flushed: 0,
    dropped: 0,
    poisoned: 0,
    clamped: 0,
    failedBatches: 0,
  };
  readonly dropped: Record<DropReason, number> = { high_water: 0, spool_full: 0, undeliverable: 0 };
  private readonly flushListeners: Array<(events: readonly QueuedEvent[]) => void> = [];
  private readonly attemptListeners: Array<(attempt: WriteAttempt) => void> = [];

  onFlushed(listener: (events: readonly QueuedEvent[]) => void): void {
    this.flushListeners.push(listener);
  }

  onWriteAttempt(listener: (attempt: WriteAttempt) => void): void {
    this.attemptListeners.push(listener);
  }

  attempt(attempt: WriteAttempt): void {
    this.notify(this.attemptListeners, attempt);
  }

  flushed(events: readonly QueuedEvent[]): void {
    this.counters.flushed += events.length;
    this.notify(this.flushListeners, events);
  }

  droppedEvents(count: number, reason: DropReason): void {
    this.counters.dropped += count;
    this.dropped[reason] += count;
  }

  /** Listeners run on the writer's path: one that throws is logged and never stops the writer. */
  private notify<T>(listeners: ReadonlyArray<(value: T) => void>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.logger.warn(`A writer listener failed: ${describeError(error)}`);
      }
    }
  }
}
