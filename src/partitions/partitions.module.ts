import { Module } from '@nestjs/common';
import { LifecycleRunRepository } from 'src/partitions/lifecycle-run.repository';
import { PartitionListService } from 'src/partitions/partition-list.service';
import { PartitionMetrics } from 'src/partitions/partition.metrics';
import { PartitionRepository } from 'src/partitions/partition.repository';
import { PartitionService } from 'src/partitions/partition.service';
import { PartitionsController } from 'src/partitions/partitions.controller';

@Module({
  controllers: [PartitionsController],
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
