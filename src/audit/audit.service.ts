import { Inject, Injectable } from '@nestjs/common';
import { AUDIT_OPTIONS } from './audit.constants';
import { buildAuditEvent } from './audit-event.factory';
import { ResolvedAuditOptions } from './audit-options';
import { AuditTargetResolver } from './audit-target.resolver';
import { AuditDelivery, AuditPipelineStats } from './audit-delivery.service';
import { AuditWriter } from './audit-writer.service';
import type { QueuedEvent, WriteAttempt } from './queued-event';
import { AuditEvent, RecordAuditEventInput } from './audit.types';

/** The programmatic API: events that are not HTTP requests (jobs, logins, system actions). */
@Injectable()
export class AuditService {
  constructor(
    private readonly writer: AuditWriter,
    private readonly delivery: AuditDelivery,
    private readonly targets: AuditTargetResolver,
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
  ) {}

  /**
   * Records one event through the same pipeline as `@Audited()` (redaction, size cap, delivery, COPY).
   * Returns the event, or null when it was dropped (past the high-water mark; counted). Does not wait: in
   * `redis` mode, or for a critical event, use `recordDurable()` to know the event is safe; `flush()` to
   * know it is in Postgres.
   */
  record(input: RecordAuditEventInput): AuditEvent | null {
    const event = this.build(input);
    if (!event) return null;
    const accepted = this.delivery.submit(event);
    if (accepted === false) return null;
    if (accepted !== true) void accepted.catch(() => undefined); // counted by the pipeline
    return event;
  }

  /**
   * Like `record()`, but resolves once the event is durable (in the Redis stream, committed, or spooled to
   * local disk) or known to be dropped (null).
   */
  async recordDurable(input: RecordAuditEventInput): Promise<AuditEvent | null> {
    const event = this.build(input);
    if (!event) return null;
    return (await this.delivery.submit(event)) ? event : null;
  }

  private build(input: RecordAuditEventInput): AuditEvent | null {
    const hasBoth = input.before !== undefined && input.after !== undefined;
    const { occurredAt, metadata } = this.withinHorizon(input);
    const event = buildAuditEvent(
      {
        action: input.action,
        eventType: input.eventType,
        actor: {
          id: input.actor?.id ?? null,
          organizationId: input.actor?.organizationId ?? null,
          type: input.actor?.type ?? (input.actor?.id ? 'user' : 'system'),
        },
        resourceType: input.resourceType ?? null,
        resourceId: input.resourceId === undefined ? null : String(input.resourceId),
        before: input.before,
        after: input.after,
        diff: hasBoth,
        recordNoOps: true,
        status: input.status ?? 'success',
        errorMessage: input.errorMessage,
        severity: input.severity ?? 'info',
        requestId: input.requestId,
        ip: input.ip,
        userAgent: input.userAgent,
        metadata,
        occurredAt,
        rules: this.targets.rules.withPaths(input.redact),
      },
      this.options.maxStateBytes,
    );
    return event;
  }

  /**
   * A caller-supplied time further ahead than `futureHorizonMs` (a bad clock, a unit mix-up) would land in the
   * DEFAULT partition for years: the event is stored at server time instead, its own time kept in
   * `metadata.originalOccurredAt`, and counted. Never dropped.
   */
  private withinHorizon(
    input: RecordAuditEventInput,
  ): Pick<RecordAuditEventInput, 'occurredAt' | 'metadata'> {
    const { occurredAt, metadata } = input;
    if (!occurredAt || occurredAt.getTime() <= Date.now() + this.options.futureHorizonMs) {
      return { occurredAt, metadata };
    }
    this.writer.reportClamped();
    return {
      occurredAt: new Date(),
      metadata: {
        ...metadata,
        originalOccurredAt: Number.isNaN(occurredAt.getTime())
          ? String(occurredAt)
          : occurredAt.toISOString(),
      },
    };
  }

  /** Waits until every event recorded so far is committed (or the timeout passes; then false). */
  flush(timeoutMs = this.options.drainTimeoutMs): Promise<boolean> {
    return this.delivery.flush(timeoutMs);
  }

  /**
   * Subscribes to committed batches: the listener gets the events of each batch written (for example to
   * invalidate caches). It runs on the writer's path: keep it quick, never throw, never keep the events.
   */
  onFlushed(listener: (events: readonly QueuedEvent[]) => void): void {
    this.writer.onFlushed(listener);
  }

  /**
   * Subscribes to every COPY attempt (size, duration, error code when it failed), for metrics. Runs on the
   * writer's path like `onFlushed`: keep it quick.
   */
  onWriteAttempt(listener: (attempt: WriteAttempt) => void): void {
    this.writer.onWriteAttempt(listener);
  }

  /**
   * Counters since start (captured, flushed, dropped, poisoned...), what is held now (memory, spool) and,
   * in `redis` mode, the stream (polled in the background): cheap, no I/O.
   */
  stats(): AuditPipelineStats {
    return this.delivery.stats();
  }

  /** Redis PING (redis mode; resolves at once otherwise), for readiness. */
  async pingDelivery(timeoutMs: number): Promise<void> {
    await this.delivery.stream?.ping(timeoutMs);
  }

  get deliveryMode(): 'memory' | 'redis' {
    return this.delivery.stream ? 'redis' : 'memory';
  }
}
