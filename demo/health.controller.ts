import { Controller, Get, Optional } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  AuditLagHealthIndicator,
  AuditPartitionsHealthIndicator,
  AuditPipelineHealthIndicator,
  AuditReplicasHealthIndicator,
  AuditService,
  AuditStreamingHealthIndicator,
  AuditWalHealthIndicator,
} from 'nest-audit-trail';

const CHECK_TIMEOUT_MS = 1500;
const MAX_EVENT_LOOP_DELAY_MS = 2000;

/**
 * The demo's own Kubernetes probes, as an adopter writes them: liveness says the process works, readiness
 * that it can take traffic (database, Redis in redis delivery mode, audit buffer under its high-water mark
 * and not lagging, partitions in place), each check with a timeout, from the package's indicators.
 */
@Controller('health')
export class HealthController {
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly pipeline: AuditPipelineHealthIndicator,
    private readonly lag: AuditLagHealthIndicator,
    private readonly partitions: AuditPartitionsHealthIndicator,
    private readonly audit: AuditService,
    private readonly replicas: AuditReplicasHealthIndicator,
    private readonly streaming: AuditStreamingHealthIndicator,
    // With DEMO_AUDIT_CONSISTENCY=wal only (AuditWalModule).
    @Optional() private readonly wal?: AuditWalHealthIndicator,
  ) {
    this.loopDelay.enable();
  }

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([
      () => {
        const p99Ms = this.loopDelay.percentile(99) / 1e6;
        this.loopDelay.reset();
        const check = this.indicator.check('eventLoop');
        return p99Ms < MAX_EVENT_LOOP_DELAY_MS ? check.up({ p99Ms }) : check.down({ p99Ms });
      },
    ]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: CHECK_TIMEOUT_MS }),
      ...(this.audit.deliveryMode === 'redis'
        ? [() => this.pipeline.streamIsHealthy('redis', CHECK_TIMEOUT_MS)]
        : []),
      () => this.pipeline.isHealthy('auditBuffer', CHECK_TIMEOUT_MS),
      () => this.lag.isHealthy('auditLag', CHECK_TIMEOUT_MS),
      () => this.partitions.isHealthy('partitions', CHECK_TIMEOUT_MS),
      // Only with AUDIT_REPLICA_URLS; never fails readiness (the primary serves reads), says which replica is down.
      ...(this.replicas.configured ? [() => this.replicas.isHealthy('replicas')] : []),
      // The wal capture slot: down when it is missing, lost, too far behind or filling the server's disk.
      ...(this.wal ? [() => this.wal!.isHealthy('walSlot')] : []),
    ]);
  }

  /**
   * Streaming destinations: down when one is paused or lags past AUDIT_STREAMING_READY_MAX_LAG_MS. Its own
   * probe (a worker's readiness, an alert), not the API's readiness: a SIEM outage must not stop the API.
   */
  @Get('streaming')
  @HealthCheck()
  streamingReady() {
    return this.health.check([() => this.streaming.isHealthy('streaming', CHECK_TIMEOUT_MS)]);
  }
}
