import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { AuditService } from '../audit';
import { AUDIT_CONFIG, AuditTrailConfig } from '../common/config/audit-config';
import { partitionsAhead } from '../partitions';
import { PartitionService } from '../partitions';
import { bufferProblem, lagProblem } from './audit-readiness';

const DEFAULT_TIMEOUT_MS = 1500;

/**
 * The capture pipeline, for the app's readiness probe: events held stay under the high-water mark
 * (`maxBuffer`), read from the writer's counters (no I/O); in redis delivery mode `streamIsHealthy` adds
 * Redis answering PING (else events fall back to the local spool).
 */
@Injectable()
export class AuditPipelineHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly audit: AuditService,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  isHealthy<K extends string>(key: K, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return this.indicator
      .check(key)
      .attempt(() => {
        const { pending, inFlight, dropped } = this.audit.stats();
        const problem = bufferProblem({ pending, inFlight }, this.config.audit.maxBuffer);
        if (problem) throw new Error(problem);
        // `pending` keeps its name: the benchmarks poll it to know when the buffer is empty.
        return { pending, inFlight, highWaterMark: this.config.audit.maxBuffer, dropped };
      })
      .withTimeout(timeoutMs);
  }

  /** Redis delivery mode: the stream's Redis answers. Up, with no details, in memory mode. */
  streamIsHealthy<K extends string>(key: K, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return this.indicator
      .check(key)
      .attempt(async () => {
        if (this.audit.deliveryMode !== 'redis') return { delivery: 'memory' };
        await this.audit.pingDelivery(timeoutMs);
        const stream = this.audit.stats().stream;
        return { streamLength: stream?.length ?? 0, pending: stream?.pending ?? 0, lag: stream?.lag ?? 0 };
      })
      .withTimeout(timeoutMs);
  }
}

/** Flushing keeps up: the oldest event not yet committed is younger than `readyMaxLagMs`. */
@Injectable()
export class AuditLagHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly audit: AuditService,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  isHealthy<K extends string>(key: K, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return this.indicator
      .check(key)
      .attempt(() => {
        const { oldestPendingMs } = this.audit.stats();
        const problem = lagProblem({ oldestPendingMs }, this.config.audit.readyMaxLagMs);
        if (problem) throw new Error(problem);
        return { oldestPendingMs, maxLagMs: this.config.audit.readyMaxLagMs };
      })
      .withTimeout(timeoutMs);
  }
}

/**
 * The partitions of the current and the next period exist. Without them events land in the DEFAULT
 * partition (slow to move out later): the keep-ahead job has been failing for a while.
 */
@Injectable()
export class AuditPartitionsHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly partitions: PartitionService,
  ) {}

  isHealthy<K extends string>(key: K, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return this.indicator
      .check(key)
      .attempt(async () => {
        const now = new Date();
        const missing = await this.partitions.missing(now, 1);
        if (missing.length > 0) throw new Error(`missing partitions: ${missing.join(', ')}`);
        return { present: partitionsAhead(now, 1).map((p) => p.name) };
      })
      .withTimeout(timeoutMs);
  }
}
