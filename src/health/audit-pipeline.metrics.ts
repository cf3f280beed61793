import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Counter } from 'prom-client';
import { AuditPipelineStats, AuditService, WriteAttempt } from '../audit';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { MetricsService } from '../common/metrics/metrics.service';

/** Committed COPY sizes: from a lone event up to the largest AUDIT_BATCH_SIZE allowed. */
const BATCH_SIZE_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 50000];
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A counter that mirrors a running total kept elsewhere: set at scrape time, never touched per event. */
function mirror(counter: Counter<string>, total: number, labels: Record<string, string> = {}): void {
  counter.reset();
  counter.inc(labels, total);
}

/**
 * The audit pipeline's Prometheus metrics. Per-event numbers (captured, flushed, dropped, poisoned) and the
 * buffer gauges are read from `AuditService.stats()` when Prometheus scrapes, so capture pays nothing for
 * them; per-batch numbers (sizes, durations, COPY errors) come from the writer's `onWriteAttempt`.
 */
@Injectable()
export class AuditPipelineMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  onModuleInit(): void {
    this.totals();
    this.buffer();
    this.spoolAndStream();
    this.writes();
  }

  /** The outage paths: the local spool, and in redis mode the stream and its dead-letter stream. */
  private spoolAndStream(): void {
    const stats = (): AuditPipelineStats => this.audit.stats();
    this.metrics.gauge({
      name: 'audit_spool_events',
      help: 'Audit events waiting in the local disk spool (Postgres or Redis was unavailable)',
      collect() {
        this.set(stats().spooled);
      },
    });
    this.metrics.gauge({
      name: 'audit_spool_bytes',
      help: 'Size of the local disk spool',
      collect() {
        this.set(stats().spoolBytes);
      },
    });
    // Registered in both modes (0 in memory mode), so one dashboard serves both.
    const stream = () => stats().stream;
    this.metrics.gauge({
      name: 'audit_stream_length',
      help: 'Entries in the Redis stream not yet committed to Postgres (delivered or not)',
      collect() {
        this.set(stream()?.length ?? 0);
      },
    });
    this.metrics.gauge({
      name: 'audit_stream_pending',
      help: 'Stream entries delivered to a consumer and not yet acknowledged',
      collect() {
        this.set(stream()?.pending ?? 0);
      },
    });
    this.metrics.gauge({
      name: 'audit_stream_lag',
      help: 'Stream entries not yet delivered to any consumer',
      collect() {
        this.set(stream()?.lag ?? 0);
      },
    });
    this.metrics.gauge({
      name: 'audit_stream_oldest_age_seconds',
      help: 'Age of the oldest stream entry not yet committed (0 when none)',
      collect() {
        this.set((stream()?.oldestAgeMs ?? 0) / 1000);
      },
    });
    this.metrics.gauge({
      name: 'audit_stream_connected',
      help: '1 while Redis answers (redis delivery mode), 0 while events fall back to the spool or in memory mode',
      collect() {
        this.set(stream()?.connected ? 1 : 0);
      },
    });
    this.metrics.gauge({
      name: 'audit_dead_letter_events',
      help: 'Entries in the dead-letter stream (events Postgres refused, with the error)',
      collect() {
        this.set(stream()?.deadLetters ?? 0);
      },
    });
    this.metrics.counter({
      name: 'audit_stream_fallback_total',
      help: 'Events that went to the local spool because Redis did not take them',
      collect() {
        mirror(this, stream()?.fellBack ?? 0);
      },
    });
  }

  private totals(): void {
    const stats = (): AuditPipelineStats => this.audit.stats();
    this.metrics.counter({
      name: 'audit_events_captured_total',
      help: 'Audit events accepted into the buffer',
      collect() {
        mirror(this, stats().captured);
      },
    });
    this.metrics.counter({
      name: 'audit_events_flushed_total',
      help: 'Audit events committed to Postgres',
      collect() {
        mirror(this, stats().flushed);
      },
    });
    this.metrics.counter({
      name: 'audit_events_dropped_total',
      help: 'Audit events not recorded (non-critical), by reason: high_water (buffer or stream full), spool_full, undeliverable',
      labelNames: ['reason'],
      collect() {
        this.reset();
        for (const [reason, total] of Object.entries(stats().droppedByReason)) this.inc({ reason }, total);
      },
    });
    this.metrics.counter({
      name: 'audit_events_clamped_total',
      help: 'Events recorded with a time beyond the future horizon: stored at server time, original kept in metadata',
      labelNames: ['reason'],
      collect() {
        mirror(this, stats().clamped, { reason: 'future' });
      },
    });
    this.metrics.counter({
      name: 'audit_events_poisoned_total',
      help: 'Audit events Postgres rejected for their data, set aside (dead-lettered) and logged by id',
      collect() {
        mirror(this, stats().poisoned);
      },
    });
    this.metrics.counter({
      name: 'audit_dead_letters_total',
      help: 'Audit events stored in the audit_dead_letters table (refused by Postgres for their data), by SQLSTATE',
      labelNames: ['code'],
      collect() {
        this.reset();
        for (const [code, total] of Object.entries(stats().deadLettered)) this.inc({ code }, total);
      },
    });
  }

  private buffer(): void {
    const stats = (): AuditPipelineStats => this.audit.stats();
    const highWaterMark = this.config.audit.maxBuffer;
    this.metrics.gauge({
      name: 'audit_buffer_depth',
      help: 'Audit events waiting for a COPY (buffer and failed batches)',
      collect() {
        this.set(stats().pending);
      },
    });
    this.metrics.gauge({
      name: 'audit_unflushed_events',
      help: 'Audit events accepted but not yet committed, held only in memory (memory delivery mode): what a kill -9 would lose',
      collect() {
        this.set(stats().unflushed);
      },
    });
    this.metrics.gauge({
      name: 'audit_buffer_in_flight',
      help: 'Audit events in a COPY not committed yet',
      collect() {
        this.set(stats().inFlight);
      },
    });
    this.metrics.gauge({
      name: 'audit_buffer_high_water_mark',
      help: 'AUDIT_MAX_BUFFER: past it, non-critical events are dropped',
      collect() {
        this.set(highWaterMark);
      },
    });
    this.metrics.gauge({
      name: 'audit_buffer_oldest_pending_age_seconds',
      help: 'How long the oldest audit event not yet committed has been held (0 when none)',
      collect() {
        this.set((stats().oldestPendingMs ?? 0) / 1000);
      },
    });
  }

  private writes(): void {
    const batchSize = this.metrics.histogram({
      name: 'audit_flush_batch_size',
      help: 'Audit events per committed COPY',
      buckets: BATCH_SIZE_BUCKETS,
    });
    const duration = this.metrics.histogram({
      name: 'audit_flush_duration_seconds',
      help: 'Duration of COPY attempts, by outcome (committed or failed)',
      labelNames: ['outcome'],
      buckets: DURATION_BUCKETS,
    });
    const copyErrors = this.metrics.counter({
      name: 'audit_copy_errors_total',
      help: 'Failed COPY attempts, by Postgres SQLSTATE (or Node error code; "unknown" when none)',
      labelNames: ['code'],
    });
    this.audit.onWriteAttempt((attempt: WriteAttempt) => {
      const seconds = attempt.durationMs / 1000;
      if (attempt.errorCode === null) {
        batchSize.observe(attempt.events);
        duration.observe({ outcome: 'committed' }, seconds);
      } else {
        duration.observe({ outcome: 'failed' }, seconds);
        copyErrors.inc({ code: attempt.errorCode || 'unknown' });
      }
    });
  }
}
