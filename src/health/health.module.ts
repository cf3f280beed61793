import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AuditBufferHealthIndicator } from './audit-buffer.health';
import { AuditPipelineMetrics } from './audit-pipeline.metrics';
import { HealthController } from './health.controller';
import { PartitionsHealthIndicator } from './partitions.health';
import { PartitionsModule } from '../partitions/partitions.module';

/**
 * What an operator watches: the Kubernetes probes, and the audit pipeline's metrics (served at /metrics by
 * the global MetricsModule, which knows nothing of the pipeline).
 */
@Module({
  imports: [TerminusModule, PartitionsModule],
  controllers: [HealthController],
  providers: [AuditBufferHealthIndicator, PartitionsHealthIndicator, AuditPipelineMetrics],
})
export class HealthModule {}
