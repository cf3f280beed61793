import { Global, Module } from '@nestjs/common';
import { JobMetrics } from './job-metrics.service';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/**
 * `GET /metrics` and the app's registry. Global: features inject `MetricsService` to declare their metrics
 * (or `JobMetrics` to time their jobs) without this folder knowing about them.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, JobMetrics],
  exports: [MetricsService, JobMetrics],
})
export class MetricsModule {}
