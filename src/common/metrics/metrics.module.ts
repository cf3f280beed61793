import { Global, Module } from '@nestjs/common';
import { JobMetrics } from './job-metrics.service';
import { MetricsService } from './metrics.service';

/**
 * The trail's Prometheus registry (`MetricsService`; `AuditMetricsController` serves it where the app mounts it). Global: features inject `MetricsService` to declare their metrics
 * (or `JobMetrics` to time their jobs) without this folder knowing about them.
 */
@Global()
@Module({
  providers: [MetricsService, JobMetrics],
  exports: [MetricsService, JobMetrics],
})
export class MetricsModule {}
