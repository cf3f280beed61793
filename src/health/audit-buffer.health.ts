import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { AuditService } from '../audit';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { bufferProblem, lagProblem } from './audit-readiness';

/** Readiness of the audit pipeline, read from the writer's counters (no I/O). */
@Injectable()
export class AuditBufferHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly audit: AuditService,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  /** Events held below the high-water mark (AUDIT_MAX_BUFFER). */
  depth<K extends string>(key: K, timeoutMs: number) {
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

  /** Redis answers PING (redis delivery mode only): else events fall back to the local spool. */
  redis<K extends string>(key: K, timeoutMs: number) {
    return this.indicator
      .check(key)
      .attempt(async () => {
        await this.audit.pingDelivery(timeoutMs);
        const stream = this.audit.stats().stream;
        return { streamLength: stream?.length ?? 0, pending: stream?.pending ?? 0, lag: stream?.lag ?? 0 };
      })
      .withTimeout(timeoutMs);
  }

  /** The oldest event not yet committed is younger than AUDIT_READY_MAX_LAG_MS: flushing keeps up. */
  lag<K extends string>(key: K, timeoutMs: number) {
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
