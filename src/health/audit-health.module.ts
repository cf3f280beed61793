import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PartitionsModule } from '../partitions';
import {
  AuditLagHealthIndicator,
  AuditPartitionsHealthIndicator,
  AuditPipelineHealthIndicator,
} from './audit-health.indicators';
import { AuditPipelineMetrics } from './audit-pipeline.metrics';
import { ReplicaMetrics } from './replica.metrics';
import { AuditReplicasHealthIndicator } from './replicas-health.indicator';

/**
 * The indicators an app adds to its own Terminus health controller, and the pipeline's Prometheus metrics
 * (on the registry of `AuditMetricsService`). No routes: the app owns `/health` and `/metrics`.
 */
@Module({
  imports: [TerminusModule, PartitionsModule],
  providers: [
    AuditPipelineHealthIndicator,
    AuditLagHealthIndicator,
    AuditPartitionsHealthIndicator,
    AuditPipelineMetrics,
    AuditReplicasHealthIndicator,
    ReplicaMetrics,
  ],
  exports: [
    AuditPipelineHealthIndicator,
    AuditLagHealthIndicator,
    AuditPartitionsHealthIndicator,
    AuditReplicasHealthIndicator,
    TerminusModule,
  ],
})
export class AuditHealthModule {}
