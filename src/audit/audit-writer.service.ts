import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { Pool } from 'pg';
import { AUDIT_OPTIONS, AUDIT_PG_POOL } from './audit.constants';
import { AuditEventRepository } from './audit-event.repository';
import { isCritical, ResolvedAuditOptions } from './audit-options';
import { AuditEvent } from './audit.types';
import { describeError } from '../common/database/safe-query.logger';
import { PersonalDataService } from './personal-data/personal-data.service';
import { adaptiveBatchSize, maxAdaptiveBatch } from './delivery/adaptive-batch';
import { BatchOutcome, copyBatch } from './delivery/batch-copy';
import { DeadLetters } from './delivery/dead-letters';
import { DiskSpool } from './delivery/disk-spool';
import { HeldMemory } from './delivery/held-memory';
import { RetryBackoff } from './delivery/retry-backoff';
import {
  AuditWriterStats,
  DropReason,
  PoisonedEvent,
  QueuedEvent,
  toQueued,
  WriteAttempt,
  WriterSink,
} from './queued-event';
import { WriterReports } from './writer-reports';

// Its vocabulary lives in queued-event.ts (no import cycle with delivery/); re-exported for existing importers.
export type { AuditWriterStats, DropReason, QueuedEvent, WriteAttempt } from './queued-event';
export { toQueued } from './queued-event';

/**
 * The bounded buffer between capture and Postgres. Events are appended in memory (no I/O on the request
 * path) and written in batches with COPY when a batch is full or the flush interval passes, with up to
 * `flushConcurrency` COPY streams at once; under load, batches grow (adaptive size). Bounded twice: `maxBuffer`
 * events waiting, `maxBufferBytes` held (waiting or being written); past either, the overflow policy applies.
 *
 * When Postgres cannot take a batch, the batch goes to the local disk spool, and so does every batch after
 * it until the spool has been replayed (oldest first, idempotently where a batch may already be stored):
 * events wait on disk, not in memory, and reach Postgres in order once it is back. Without a spool (or when
 * the disk refuses), failed batches are kept in memory and retried with exponential backoff.
 */
@Injectable()
export class AuditWriter
  implements WriterSink, OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(AuditWriter.name);
  private readonly repository: AuditEventRepository;
  readonly spool: DiskSpool | null;
  private buffer: QueuedEvent[] = [];
  /** Batches whose write failed and that the spool could not take: retried first, idempotently. */
  private readonly retries: QueuedEvent[][] = [];
  private inFlight = 0;
  /** Synchronous writes (critical events) under way. */
  private syncWrites = 0;
  private readonly backoff = new RetryBackoff(5_000);
  /** Batches handed to a COPY or spool write that has not finished: still held, so counted in stats(). */
  private readonly writing = new Set<QueuedEvent[]>();
  private draining = false;
  private timer?: NodeJS.Timeout;
  private idle: Array<() => void> = [];
  private readonly reports = new WriterReports();
  private readonly counters = this.reports.counters;
  private readonly deadLetters: DeadLetters;
  private readonly maxBatch: number;
  /** A batch takes at most this many bytes: while every stream writes one, new events still find room. */
  private readonly maxBatchBytes: number;
  private readonly memory = new HeldMemory();

  constructor(
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
    @Inject(AUDIT_PG_POOL) private readonly pool: Pool,
    personal: PersonalDataService,
  ) {
    this.repository = new AuditEventRepository(pool, (ids) => personal.markStored(ids));
    this.spool = options.spool ? new DiskSpool(options.spool) : null;
    this.deadLetters = new DeadLetters(this.repository, this.spool);
    this.maxBatch = maxAdaptiveBatch(options.batchSize);
    this.maxBatchBytes = Math.floor(options.maxBufferBytes / (options.flushConcurrency + 1));
  }

  onModuleInit(): void {
    if (this.spool && !this.spool.isEmpty()) {
      const { events, segments } = this.spool.stats();
      this.logger.warn(
        `Replaying ${events} spooled audit events (${segments} segments) left by an earlier run`,
      );
    }
    this.timer = setInterval(() => this.pump(true), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Accepts an event for writing. Returns false when the buffer is at its bound and the event was dropped
   * (counted); critical events are always accepted.
   */
  enqueue(event: AuditEvent): boolean {
    return this.enqueueQueued(toQueued(event));
  }

  enqueueQueued(event: QueuedEvent): boolean {
    if (!this.hasRoom() && !isCritical(this.options, event)) {
      this.reportDropped(1, 'high_water');
      return false;
    }
    this.buffer.push(event);
    this.memory.added(event);
    this.counters.captured++;
    if (this.bufferFull()) this.pump(false);
    return true;
  }

  /** True while the buffer is below both its high-water marks: events waiting, and bytes held. */
  hasRoom(): boolean {
    return this.memory.total < this.options.maxBufferBytes && this.pending() < this.options.maxBuffer;
  }

  /**
   * The synchronous path: the events are committed (or, Postgres being unavailable, spooled to disk) before
   * this resolves. Returns false only when neither could take them (counted as dropped).
   */
  async writeNow(events: QueuedEvent[]): Promise<boolean> {
    this.counters.captured += events.length;
    // Counted in flight (stats, flush) while it runs, outside the COPY slots of the buffer's batches.
    this.syncWrites++;
    this.writing.add(events);
    this.memory.hold(events);
    try {
      let idempotent = false;
      if (!this.spool || this.spool.isEmpty()) {
        try {
          // A critical event Postgres refuses is durable once dead-lettered; lost only when that failed too.
          return await this.settle(
            await copyBatch(this.repository, events, false, (a) => this.reportAttempt(a)),
          );
        } catch (error) {
          this.counters.failedBatches++;
          this.logger.warn(`Synchronous audit write failed (${describeError(error)}): spooling`);
          idempotent = true;
        }
      }
      const dropped = await this.toSpool(events, idempotent);
      if (dropped === null) this.retries.push(events); // kept in memory: not durable, but not lost either
      return dropped === 0;
    } finally {
      this.syncWrites--;
      this.writing.delete(events);
      this.release(events);
    }
  }

  /**
   * Makes events durable on the local disk (the Redis fallback): resolves true once they are on disk; false
   * when there is no spool, or it is full (non-critical events, counted as dropped), or the disk refused.
   */
  async spoolNow(events: QueuedEvent[]): Promise<boolean> {
    this.counters.captured += events.length;
    const dropped = await this.toSpool(events, false);
    if (dropped === null) this.reportDropped(events.length, 'undeliverable');
    return dropped === 0;
  }

  /** Writes everything pending now; resolves when nothing is waiting (buffer, spool) or in flight. */
  async flush(timeoutMs = this.options.drainTimeoutMs): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.held() > 0 || this.inFlight > 0 || this.syncWrites > 0) {
      if (Date.now() >= deadline) return false;
      this.pump(true);
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now()))).unref();
      });
    }
    return true;
  }

  /** Called after each committed batch with its events (cache invalidation...). */
  onFlushed(listener: (events: readonly QueuedEvent[]) => void): void {
    this.reports.onFlushed(listener);
  }

  /** Called after each COPY attempt, committed or failed (metrics). Same rules as `onFlushed`. */
  onWriteAttempt(listener: (attempt: WriteAttempt) => void): void {
    this.reports.onWriteAttempt(listener);
  }
  /** For other writers of the same table (the Redis stream consumer): same listeners, same counters. */
  reportAttempt(attempt: WriteAttempt): void {
    this.reports.attempt(attempt);
  }
  reportFlushed(events: readonly QueuedEvent[]): void {
    this.reports.flushed(events);
  }
  reportClamped(): void {
    this.counters.clamped++;
  }
  reportCaptured(count: number): void {
    this.counters.captured += count;
  }
  reportPoisoned(count: number): void {
    this.counters.poisoned += count;
  }
  reportDropped(count: number, reason: DropReason): void {
    this.reports.droppedEvents(count, reason);
  }

  /** Events Postgres refuses for their data: into the dead-letter table (or the spool's file), logged by id. */
  deadLetter(poisoned: readonly PoisonedEvent[]): Promise<boolean> {
    return this.deadLetters.store(poisoned);
  }

  stats(): AuditWriterStats {
    // Each queue is in arrival order, so its head is its oldest event.
    let oldest = Math.min(
      this.retries[0]?.[0]?.enqueuedAt ?? Infinity,
      this.buffer[0]?.enqueuedAt ?? Infinity,
      this.spool?.stats().oldestEnqueuedAt ?? Infinity,
    );
    let inFlight = 0;
    for (const batch of this.writing) {
      inFlight += batch.length;
      oldest = Math.min(oldest, batch[0]?.enqueuedAt ?? Infinity);
    }
    const spool = this.spool?.stats();
    return {
      ...this.counters,
      droppedByReason: { ...this.reports.dropped },
      deadLettered: this.deadLetters.counts(),
      pending: this.pending(),
      heldBytes: this.memory.total,
      inFlight,
      spooled: spool?.events ?? 0,
      spoolBytes: spool?.bytes ?? 0,
      oldestPendingMs: oldest === Infinity ? null : Date.now() - oldest,
    };
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (this.held() === 0 && this.inFlight === 0) return;
    this.logger.log(`Draining ${this.held()} audit events (deadline ${this.options.drainTimeoutMs} ms)`);
    if (await this.flush()) return;
    // Out of time (Postgres slow or away): what is still in memory goes to disk, where the next start finds it.
    const retried = this.retries.splice(0);
    retried.forEach((batch) => this.release(batch));
    const left = [...retried.flat(), ...this.buffer.splice(0)];
    this.memory.clearBuffer();
    if (left.length > 0 && this.spool && (await this.spool.append(left, true, true).catch(() => false))) {
      this.logger.warn(`Shutdown deadline passed: ${left.length} audit events spooled for the next start`);
    } else if (left.length > 0) {
      this.logger.error(`Shutdown deadline passed with ${left.length} audit events not written`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.spool?.close();
    await this.pool.end();
  }

  /** Events held in memory, waiting for a write. */
  private pending(): number {
    let count = this.buffer.length;
    for (const batch of this.retries) count += batch.length;
    return count;
  }

  /** Everything not yet committed: memory and spool. */
  private held(): number {
    return this.pending() + (this.spool?.stats().events ?? 0);
  }

  /**
   * Starts as many writes as allowed: full batches always, a partial one when `partial` (timer, drain).
   * While the spool holds anything, it is replayed (one segment at a time) and new batches join it.
   */
  private pump(partial: boolean): void {
    while (this.inFlight < this.options.flushConcurrency) {
      const spooling = this.spool !== null && !this.spool.isEmpty();
      if (spooling && !this.draining && this.backoff.ready) {
        this.run([], () => this.drainSpool());
        continue;
      }
      if (!spooling && this.backoff.ready) {
        const retry = this.retries.shift();
        if (retry) {
          this.run(retry, () => this.write(retry, true));
          continue;
        }
      }
      if (this.buffer.length === 0 || (!partial && !this.bufferFull())) break;
      if (!spooling && !this.backoff.ready) break;
      const batch = this.takeBatch();
      this.run(batch, () => (spooling ? this.spoolBatch(batch) : this.write(batch, false)));
    }
  }

  /** A full batch is waiting: by count, or by bytes (large events). */
  private bufferFull(): boolean {
    return this.buffer.length >= this.options.batchSize || this.memory.inBuffer >= this.maxBatchBytes;
  }

  /** The next batch off the buffer: its adaptive size, cut at `maxBatchBytes` (never below one event). */
  private takeBatch(): QueuedEvent[] {
    const { buffer, options } = this;
    const size = adaptiveBatchSize(buffer.length, options.batchSize, this.maxBatch, options.flushConcurrency);
    const { count, bytes } = this.memory.cut(buffer, size, this.maxBatchBytes);
    const batch = count === buffer.length ? buffer : buffer.slice(0, count);
    this.buffer = batch === buffer ? [] : buffer.slice(count);
    this.memory.taken(batch, bytes);
    return batch;
  }

  /** A batch is done with (written, spooled, dropped) unless it waits for a retry: still held then. */
  private release(batch: QueuedEvent[]): void {
    if (!this.retries.includes(batch)) this.memory.release(batch);
  }

  private run(batch: QueuedEvent[], work: () => Promise<void>): void {
    this.inFlight++;
    this.writing.add(batch);
    work()
      .catch((error: unknown) => this.logger.error(`Unexpected writer error: ${describeError(error)}`))
      .finally(() => {
        this.inFlight--;
        this.writing.delete(batch);
        this.release(batch);
        if (this.inFlight === 0 && this.held() === 0) this.idle.splice(0).forEach((resolve) => resolve());
        this.pump(false);
      });
  }

  private async write(batch: QueuedEvent[], idempotent: boolean): Promise<void> {
    try {
      const outcome = await copyBatch(this.repository, batch, idempotent, (a) => this.reportAttempt(a));
      this.backoff.succeeded();
      await this.settle(outcome);
    } catch (error) {
      this.failed(error, batch.length);
      // The first attempt may have committed before the connection dropped: replayed idempotently.
      if ((await this.toSpool(batch, true)) === null) this.retries.push(batch);
    }
  }

  /** A batch taken from the buffer while the spool is being replayed: it queues behind the spool. */
  private async spoolBatch(batch: QueuedEvent[]): Promise<void> {
    if ((await this.toSpool(batch, false)) === null) this.retries.push(batch);
  }

  /** Replays the oldest spool segment; on failure it stays, and the next try waits (backoff). */
  private async drainSpool(): Promise<void> {
    const spool = this.spool!;
    this.draining = true;
    try {
      const segment = await spool.oldest();
      if (!segment) return;
      if (segment.unreadable.length > 0) {
        this.logger.error(
          `${segment.unreadable.length} unreadable lines in spool segment ${segment.name}: set aside`,
        );
        await spool.setAside(segment.unreadable.map((line) => ({ line, error: 'unreadable spool line' })));
      }
      try {
        const outcome = await copyBatch(this.repository, segment.events, segment.idempotent, (a) =>
          this.reportAttempt(a),
        );
        this.backoff.succeeded();
        // Dead letters first: a crash before the segment's removal replays it, and the table keeps one row.
        await this.settle(outcome);
        await spool.remove(segment.name);
      } catch (error) {
        this.failed(error, segment.events.length);
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Writes a batch to the spool: all of it while the spool has room, only its critical events once it is
   * full (the others are counted as dropped). Returns how many were dropped, or null when there is no spool
   * or the disk refused the write (the caller keeps the batch in memory).
   */
  private async toSpool(batch: QueuedEvent[], idempotent: boolean): Promise<number | null> {
    if (!this.spool) return null;
    const kept = this.spool.hasRoom() ? batch : batch.filter((event) => isCritical(this.options, event));
    try {
      await this.spool.append(kept, idempotent, true);
    } catch (error) {
      this.logger.error(`Audit spool write failed (${describeError(error)}): keeping the batch in memory`);
      return null;
    }
    const dropped = batch.length - kept.length;
    if (dropped > 0) {
      this.reportDropped(dropped, 'spool_full');
      this.logger.error(`Audit spool full: ${dropped} non-critical events dropped`);
    }
    return dropped;
  }

  /** Reports what a COPY wrote and dead-letters what it refused; false when a refused event was lost. */
  private async settle(outcome: BatchOutcome): Promise<boolean> {
    if (outcome.written.length > 0) this.reportFlushed(outcome.written);
    if (outcome.poisoned.length === 0) return true;
    this.counters.poisoned += outcome.poisoned.length;
    return this.deadLetters.store(outcome.poisoned);
  }

  private failed(error: unknown, events: number): void {
    this.counters.failedBatches++;
    const backoff = this.backoff.failed();
    this.logger.warn(
      `Audit batch of ${events} events failed (${describeError(error)}); retry #${this.backoff.attempts} in ~${backoff} ms`,
    );
  }
}
