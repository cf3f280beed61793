import { Injectable, OnModuleInit } from '@nestjs/common';
import { ReadReplicas, ReplicaState } from '../common/database/read-replicas';
import { MetricsService } from '../common/metrics/metrics.service';

const STATES: ReplicaState[] = ['starting', 'up', 'lagging', 'down'];

/**
 * The read replicas' Prometheus metrics, read from `ReadReplicas` at scrape time (no I/O): one series per
 * replica, labelled `host:port/database`. Declared even without replicas, so one dashboard serves both.
 */
@Injectable()
export class ReplicaMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly replicas: ReadReplicas,
  ) {}

  onModuleInit(): void {
    const replicas = this.replicas;
    this.metrics.gauge({
      name: 'audit_replica_up',
      help: '1 while the replica serves admin reads (answering and within replicas.maxLagMs), else 0',
      labelNames: ['replica'],
      collect() {
        this.reset();
        for (const r of replicas.status()) this.set({ replica: r.name }, r.state === 'up' ? 1 : 0);
      },
    });
    this.metrics.gauge({
      name: 'audit_replica_state',
      help: 'The replica state at the last check or read: 1 for the current one of starting, up, lagging, down',
      labelNames: ['replica', 'state'],
      collect() {
        this.reset();
        for (const r of replicas.status())
          for (const state of STATES) this.set({ replica: r.name, state }, r.state === state ? 1 : 0);
      },
    });
    this.metrics.gauge({
      name: 'audit_replica_lag_seconds',
      help: 'How stale the replica was at the last check (0 when it had replayed all the primary had written); absent while down',
      labelNames: ['replica'],
      collect() {
        this.reset();
        for (const r of replicas.status())
          if (r.lagMs !== null) this.set({ replica: r.name }, r.lagMs / 1000);
      },
    });
    this.metrics.gauge({
      name: 'audit_replica_lag_bytes',
      help: 'WAL bytes the primary had written and the replica had not replayed, at the last check; absent while down',
      labelNames: ['replica'],
      collect() {
        this.reset();
        for (const r of replicas.status()) if (r.lagBytes !== null) this.set({ replica: r.name }, r.lagBytes);
      },
    });
    this.metrics.counter({
      name: 'audit_replica_reads_total',
      help: 'Admin reads (queries and exports) served by the replica',
      labelNames: ['replica'],
      collect() {
        this.reset();
        for (const r of replicas.status()) this.inc({ replica: r.name }, r.reads);
      },
    });
    this.metrics.counter({
      name: 'audit_replica_fallback_reads_total',
      help: 'Admin reads served by the primary although replicas are configured, by reason: down, lagging, failed (the replica failed mid-read)',
      labelNames: ['reason'],
      collect() {
        this.reset();
        if (!replicas.configured) return;
        for (const [reason, total] of Object.entries(replicas.fallbackCounts())) this.inc({ reason }, total);
      },
    });
  }
}
