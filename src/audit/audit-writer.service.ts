import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { AUDIT_OPTIONS, AUDIT_PG_POOL } from 'src/audit/audit.constants';
import { AuditEventRepository } from 'src/audit/audit-event.repository';
import { ResolvedAuditOptions } from 'src/audit/audit-options';
import { AuditEvent } from 'src/audit/audit.types';
import { encodeEvent } from 'src/audit/copy-format';

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
  line: string;
  /** When the writer accepted it (epoch ms): the age of what waits, whatever `occurredAt` says. */
  enqueuedAt: number;
}

export interface AuditWriterStats {
  captured: number;
  flushed: number;
  dropped: number;
  poisoned: number;
  failedBatches: number;
  /** Events waiting for a COPY (buffer and failed batches); this is what the high-water mark bounds. */
  pending: number;
  /** Events in a COPY that has not committed yet. */
  inFlight: number;
  /** How long the oldest event not yet committed (waiting or in flight) has been held; null when none. */
  oldestPendingMs: number | null;
}

/** One COPY attempt (a batch, a retry or a piece of a split batch), as reported to `onWriteAttempt`. */
export interface WriteAttempt {
  events: number;
  durationMs: number;
  /** True on the idempotent path (retry after a failure, or a split to isolate a bad event). */
  retry: boolean;
  /** Null when the batch committed; else the Postgres SQLSTATE (or Node error code), '' when none. */
  errorCode: string | null;
}

const MAX_BACKOFF_MS = 30_000;
// Postgres error classes that mean "this data can never be written" (bad value, constraint), as opposed to
// "try again later" (connection, lock, admin shutdown, missing table being recreated...).
const DATA_ERROR = /^(22|23)/;

/**
 * The bounded buffer between capture and Postgres. Events are appended in memory (no I/O on the request
 * path) and written in batches with COPY when a batch is full or the flush interval passes, with up to
 * `flushConcurrency` COPY streams at once. A failed batch is kept and retried with exponential backoff,
 * idempotently (the first attempt may have committed before the connection dropped).
 */
@Injectable()
export class AuditWriter implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(AuditWriter.name);
  private readonly repository: AuditEventRepository;
  private buffer: QueuedEvent[] = [];
  /** Batches whose write failed: retried first, with the idempotent path. */
  private readonly retries: QueuedEvent[][] = [];
  private inFlight = 0;
  private consecutiveFailures = 0;
  private retryAt = 0;
  /** Batches handed to a COPY that has not finished: still held, so still counted in stats(). */
  private readonly writing = new Set<QueuedEvent[]>();
  private timer?: NodeJS.Timeout;
  private idle: Array<() => void> = [];
  private readonly counters = { captured: 0, flushed: 0, dropped: 0, poisoned: 0, failedBatches: 0 };
  private readonly flushListeners: Array<(events: readonly QueuedEvent[]) => void> = [];
  private readonly attemptListeners: Array<(attempt: WriteAttempt) => void> = [];

  constructor(
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
    @Inject(AUDIT_PG_POOL) private readonly pool: Pool,
  ) {
    this.repository = new AuditEventRepository(pool);
  }

  onModuleInit(): void {
    this.timer = setInterval(() => this.pump(true), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Accepts an event for writing. Returns false when the buffer is at its bound and the event was dropped
   * (counted); events of critical actions are always accepted.
   */
  enqueue(event: AuditEvent): boolean {
    if (this.pending() >= this.options.maxBuffer && !this.isCritical(event)) {
      this.counters.dropped++;
      return false;
    }
    this.buffer.push({
      id: event.id,
      occurredAt: event.occurredAt,
      organizationId: event.organizationId,
      resourceType: event.resourceType,
      action: event.action,
      line: encodeEvent(event),
      enqueuedAt: Date.now(),
    });
    this.counters.captured++;
    if (this.buffer.length >= this.options.batchSize) this.pump(false);
    return true;
  }

  /** Writes everything pending now; resolves when the buffer is empty and no write is in flight. */
  async flush(timeoutMs = this.options.drainTimeoutMs): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending() > 0 || this.inFlight > 0) {
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
    this.flushListeners.push(listener);
  }

  /** Called after each COPY attempt, committed or failed (metrics). Same rules as `onFlushed`. */
  onWriteAttempt(listener: (attempt: WriteAttempt) => void): void {
    this.attemptListeners.push(listener);
  }

  stats(): AuditWriterStats {
    // Each queue is in arrival order, so its head is its oldest event.
    let oldest = Math.min(
      this.retries[0]?.[0]?.enqueuedAt ?? Infinity,
      this.buffer[0]?.enqueuedAt ?? Infinity,
    );
    let inFlight = 0;
    for (const batch of this.writing) {
      inFlight += batch.length;
      oldest = Math.min(oldest, batch[0]?.enqueuedAt ?? Infinity);
    }
    return {
      ...this.counters,
      pending: this.pending(),
      inFlight,
      oldestPendingMs: oldest === Infinity ? null : Date.now() - oldest,
    };
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    const pending = this.pending();
    if (pending === 0 && this.inFlight === 0) return;
    this.logger.log(`Draining ${pending} audit events (deadline ${this.options.drainTimeoutMs} ms)`);
    if (!(await this.flush())) {
      this.logger.error(`Shutdown deadline passed with ${this.pending()} audit events not written`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }

  private pending(): number {
    let count = this.buffer.length;
    for (const batch of this.retries) count += batch.length;
    return count;
  }

  private isCritical(event: AuditEvent): boolean {
    return event.severity === 'critical' || this.options.criticalActions.includes(event.action);
  }

  /** Starts as many writes as allowed: full batches always, a partial one when `partial` (timer, drain). */
  private pump(partial: boolean): void {
    while (this.inFlight < this.options.flushConcurrency && Date.now() >= this.retryAt) {
      const retry = this.retries.shift();
      if (retry) {
        this.start(retry, true);
        continue;
      }
      if (this.buffer.length === 0 || (!partial && this.buffer.length < this.options.batchSize)) break;
      const batch =
        this.buffer.length <= this.options.batchSize
          ? this.buffer
          : this.buffer.slice(0, this.options.batchSize);
      this.buffer = batch === this.buffer ? [] : this.buffer.slice(this.options.batchSize);
      this.start(batch, false);
    }
  }

  private start(batch: QueuedEvent[], isRetry: boolean): void {
    this.inFlight++;
    this.writing.add(batch);
    this.write(batch, isRetry)
      .catch((error: unknown) => this.logger.error(`Unexpected writer error: ${describe(error)}`))
      .finally(() => {
        this.inFlight--;
        this.writing.delete(batch);
        if (this.inFlight === 0 && this.pending() === 0) this.idle.splice(0).forEach((resolve) => resolve());
        this.pump(false);
      });
  }

  private async write(batch: QueuedEvent[], isRetry: boolean): Promise<void> {
    const lines = batch.map((event) => event.line);
    const started = performance.now();
    try {
      if (isRetry) await this.repository.copyIdempotent(lines);
      else await this.repository.copy(lines);
      this.counters.flushed += batch.length;
      this.consecutiveFailures = 0;
      this.retryAt = 0;
      this.notify(this.attemptListeners, this.attempt(batch, started, isRetry, null));
      this.notify(this.flushListeners, batch);
    } catch (error) {
      this.counters.failedBatches++;
      const code = (error as { code?: string }).code ?? '';
      this.notify(this.attemptListeners, this.attempt(batch, started, isRetry, code));
      if (DATA_ERROR.test(code) && code !== '23505') return this.isolatePoison(batch, error);
      this.consecutiveFailures++;
      const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.consecutiveFailures - 1));
      this.retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
      this.retries.push(batch);
      this.logger.warn(
        `Audit batch of ${batch.length} events failed (${describe(error)}); retry #${this.consecutiveFailures} in ~${backoff} ms`,
      );
    }
  }

  private attempt(
    batch: QueuedEvent[],
    started: number,
    retry: boolean,
    errorCode: string | null,
  ): WriteAttempt {
    return { events: batch.length, durationMs: performance.now() - started, retry, errorCode };
  }

  /** Listeners run on the writer's path: one that throws is logged and never stops the writer. */
  private notify<T>(listeners: ReadonlyArray<(value: T) => void>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.logger.warn(`A writer listener failed: ${describe(error)}`);
      }
    }
  }

  /** Splits a batch that has bad data until the bad event is alone; the others are written. */
  private async isolatePoison(batch: QueuedEvent[], error: unknown): Promise<void> {
    if (batch.length === 1) {
      this.counters.poisoned++;
      this.logger.error(`Audit event ${batch[0].id} cannot be stored and was set aside: ${describe(error)}`);
      return;
    }
    const middle = Math.ceil(batch.length / 2);
    await this.write(batch.slice(0, middle), true);
    await this.write(batch.slice(middle), true);
  }
}

/** Error code and message only: never the data (which could carry what redaction missed). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  return code ? `${code} ${error.message}` : error.message;
}
