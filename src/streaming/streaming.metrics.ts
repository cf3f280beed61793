import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';
import { DeliveryFailure } from './streaming.types';

type Labelled = { name: string; organizationId: string | null };
const labels = (destination: Labelled) => ({
  destination: destination.name,
  organization: destination.organizationId ?? '*',
});

/**
 * Per-destination delivery in /metrics (labels `destination`, `organization` = `*` for every organization):
 * events delivered, sends and their latency, failures by kind, dead letters, events no longer in the hot or
 * warm tables, and, refreshed by the streamer every poll, lag, backlog, last success and paused state.
 */
export class StreamingMetrics {
  private readonly deliveredTotal: Counter<'destination' | 'organization'>;
  private readonly failuresTotal: Counter<'destination' | 'organization' | 'failure'>;
  private readonly deadLettersTotal: Counter<'destination' | 'organization'>;
  private readonly unavailableTotal: Counter<'destination' | 'organization'>;
  private readonly sendSeconds: Histogram<'destination' | 'organization'>;
  private readonly lagSeconds: Gauge<'destination' | 'organization'>;
  private readonly pendingEvents: Gauge<'destination' | 'organization'>;
  private readonly lastSuccess: Gauge<'destination' | 'organization'>;
  private readonly paused: Gauge<'destination' | 'organization'>;

  constructor(metrics: MetricsService) {
    const labelNames = ['destination', 'organization'] as const;
    this.deliveredTotal = metrics.counter({
      name: 'audit_stream_delivered_events_total',
      help: 'Events delivered (acknowledged by the receiver), per destination',
      labelNames,
    });
    this.failuresTotal = metrics.counter({
      name: 'audit_stream_send_failures_total',
      help: 'Failed sends per destination, by what the failure means: retry, reject (split, dead-letter) or pause',
      labelNames: [...labelNames, 'failure'],
    });
    this.deadLettersTotal = metrics.counter({
      name: 'audit_stream_dead_letters_total',
      help: 'Events a destination refused for good, dead-lettered (replayable)',
      labelNames,
    });
    this.unavailableTotal = metrics.counter({
      name: 'audit_stream_unavailable_events_total',
      help: 'Events due to a destination that are no longer in the hot or warm tables (archived): not sent',
      labelNames,
    });
    this.sendSeconds = metrics.histogram({
      name: 'audit_stream_send_duration_seconds',
      help: 'Duration of one acknowledged send to a destination',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.lagSeconds = metrics.gauge({
      name: 'audit_stream_lag_seconds',
      help: 'Age of the oldest committed event not yet delivered to the destination (0 when up to date)',
      labelNames,
    });
    this.pendingEvents = metrics.gauge({
      name: 'audit_stream_pending_events',
      help: 'Committed events not yet delivered to the destination',
      labelNames,
    });
    this.lastSuccess = metrics.gauge({
      name: 'audit_stream_last_success_timestamp_seconds',
      help: 'When the destination last acknowledged a batch (Unix time; 0: never)',
      labelNames,
    });
    this.paused = metrics.gauge({
      name: 'audit_stream_paused',
      help: '1 when the destination is paused (credentials or endpoint refused; resume it once fixed)',
      labelNames,
    });
  }

  delivered(destination: Labelled, events: number): void {
    this.deliveredTotal.inc(labels(destination), events);
  }

  sent(destination: Labelled, seconds: number): void {
    this.sendSeconds.observe(labels(destination), seconds);
  }

  failed(destination: Labelled, failure: DeliveryFailure): void {
    this.failuresTotal.inc({ ...labels(destination), failure });
  }

  deadLettered(destination: Labelled): void {
    this.deadLettersTotal.inc(labels(destination));
  }

  unavailable(destination: Labelled, events: number): void {
    this.unavailableTotal.inc(labels(destination), events);
  }

  status(
    destination: Labelled,
    status: { lagSeconds: number; pendingEvents: number; lastSuccessAt: Date | null; paused: boolean },
  ): void {
    const l = labels(destination);
    this.lagSeconds.set(l, status.lagSeconds);
    this.pendingEvents.set(l, status.pendingEvents);
    this.lastSuccess.set(l, status.lastSuccessAt ? status.lastSuccessAt.getTime() / 1000 : 0);
    this.paused.set(l, status.paused ? 1 : 0);
  }

  /** A deleted destination's series go away. */
  forget(destination: Labelled): void {
    const l = labels(destination);
    for (const gauge of [this.lagSeconds, this.pendingEvents, this.lastSuccess, this.paused]) gauge.remove(l);
  }
}
