import { Module } from '@nestjs/common';
import { LifecycleRunRepository } from './lifecycle-run.repository';
import { PartitionListService } from './partition-list.service';
import { PartitionMetrics } from './partition.metrics';
import { PartitionRepository } from './partition.repository';
import { PartitionService } from './partition.service';

/** Partition lifecycle services (no routes; the job is in AuditJobsModule). */
@Module({
  providers: [
    PartitionRepository,
    PartitionService,
    PartitionListService,
    PartitionMetrics,
    LifecycleRunRepository,
  ],
  exports: [PartitionService, PartitionRepository, PartitionListService, LifecycleRunRepository],
})
export class PartitionsModule {}
