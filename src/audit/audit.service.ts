import { Inject, Injectable } from '@nestjs/common';
import { AUDIT_OPTIONS } from './audit.constants';
import { buildAuditEvent } from './audit-event.factory';
import { ResolvedAuditOptions } from './audit-options';
import { AuditTargetResolver } from './audit-target.resolver';
import { AuditDelivery, AuditPipelineStats } from './audit-delivery.service';
import { AuditWriter } from './audit-writer.service';
import type { QueuedEvent, WriteAttempt } from './queued-event';
import { AuditEvent, RecordAuditEventInput, RecordBulkAuditEventInput } from './audit.types';
import {
  AFFECTED_COUNT_KEY,
  AFFECTED_IDS_KEY,
  clipReason,
  MAX_AFFECTED_IDS,
  reasonContext,
  withReserved,
} from './reason';

/** What `recordBulk()` adds to an event's metadata. */
interface Affected {
  ids: string[];
  count: number;
}

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
    return this.submit(this.build(input));
  }

  private submit(event: AuditEvent | null): AuditEvent | null {
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
  recordDurable(input: RecordAuditEventInput): Promise<AuditEvent | null> {
    return this.submitDurable(this.build(input));
  }

  private async submitDurable(event: AuditEvent | null): Promise<AuditEvent | null> {
    if (!event) return null;
    return (await this.delivery.submit(event)) ? event : null;
  }

  /**
   * One event for a change of many rows at once, where per-row states are not available (a query-builder
   * `update()`, raw SQL, request-mode capture): action as given, event type `${resourceType}.bulk-${action}`,
   * `metadata.affectedIds` (the first 1000 ids, as text) and `metadata.affectedCount` (all of them).
   * Delivered like `record()` (null when dropped).
   */
  recordBulk(input: RecordBulkAuditEventInput): AuditEvent | null {
    return this.submit(this.buildBulk(input));
  }

  /** `recordBulk()` that resolves once the event is durable, like `recordDurable()`. */
  recordBulkDurable(input: RecordBulkAuditEventInput): Promise<AuditEvent | null> {
    return this.submitDurable(this.buildBulk(input));
  }

  /**
   * Runs `work` with a reason: events recorded inside it (`record()`, `recordBulk()`, and writes a
   * transactional capture sees) carry it as `metadata.reason` unless they give their own. Follows the async
   * calls `work` makes (AsyncLocalStorage); trimmed and cut at 500 characters; an empty reason clears it.
   */
  withReason<T>(reason: string, work: () => T): T {
    return reasonContext.run({ reason: clipReason(reason) }, work);
  }

  private buildBulk({ ids, resourceType, ...input }: RecordBulkAuditEventInput): AuditEvent | null {
    return this.build(
      { ...input, resourceType, eventType: `${resourceType}.bulk-${input.action}` },
      { ids: ids.slice(0, MAX_AFFECTED_IDS).map(String), count: ids.length },
    );
  }

  private build(input: RecordAuditEventInput, bulk?: Affected): AuditEvent | null {
    const hasBoth = input.before !== undefined && input.after !== undefined;
    const horizon = this.withinHorizon(input);
    // The reserved keys are the library's: a caller's own `metadata.reason`... is replaced or removed.
    const metadata = withReserved(horizon.metadata, {
      reason: clipReason(input.reason ?? reasonContext.getStore()?.reason),
      [AFFECTED_IDS_KEY]: bulk?.ids,
      [AFFECTED_COUNT_KEY]: bulk?.count,
    });
    const occurredAt = horizon.occurredAt;
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
        ignoredFields: this.targets.ignoredFieldsFor(input.resourceType),
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
