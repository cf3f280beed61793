import { Module } from '@nestjs/common';
import { PartitionRepository } from 'src/partitions/partition.repository';
import { PartitionService } from 'src/partitions/partition.service';

@Module({
  providers: [PartitionRepository, PartitionService],
  exports: [PartitionService],
})
export class PartitionsModule {}
