import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AuditService } from '../audit';
import { AuditBufferHealthIndicator } from './audit-buffer.health';
import { PartitionsHealthIndicator } from './partitions.health';

const CHECK_TIMEOUT_MS = 1500;
const MAX_EVENT_LOOP_DELAY_MS = 2000;

/**
 * Kubernetes probes: liveness says the process works, readiness that it can take traffic (database, Redis
 * in redis delivery mode, audit buffer under its high-water mark and not lagging, partitions in place).
 * Each check has a timeout.
 */
@Controller('health')
export class HealthController {
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly auditBuffer: AuditBufferHealthIndicator,
    private readonly partitions: PartitionsHealthIndicator,
    private readonly audit: AuditService,
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
        ? [() => this.auditBuffer.redis('redis', CHECK_TIMEOUT_MS)]
        : []),
      () => this.auditBuffer.depth('auditBuffer', CHECK_TIMEOUT_MS),
      () => this.auditBuffer.lag('auditLag', CHECK_TIMEOUT_MS),
      () => this.partitions.present('partitions', CHECK_TIMEOUT_MS),
    ]);
  }
}
