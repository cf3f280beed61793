import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';

/** What partition maintenance finds in the DEFAULT partition. */
@Injectable()
export class PartitionMetrics {
  readonly beyondHorizon: Gauge;
  readonly moved: Counter;

  constructor(metrics: MetricsService) {
    this.beyondHorizon = metrics.gauge({
      name: 'audit_partition_beyond_horizon_rows',
      help: 'Rows in the DEFAULT partition later than AUDIT_PARTITION_HORIZON_DAYS (kept there, no partition made)',
    });
    this.moved = metrics.counter({
      name: 'audit_partition_default_rows_moved_total',
      help: 'Rows moved out of the DEFAULT partition into their partition',
    });
  }
}
