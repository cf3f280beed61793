/** The partitions folder's face to the rest of the package: what other folders may import. */
export { DryRunQuery } from './dto/dry-run.query';
export { LifecycleRunRepository } from './lifecycle-run.repository';
export { PartitionListService } from './partition-list.service';
export { PartitionMaintenanceJob } from './partition-maintenance.job';
export { partitionsAhead } from './partition-naming';
export { DEFAULT_PARTITION, MAINTENANCE_LOCK_KEY, PartitionInfo, PartitionRepository, WARM_PARENT } from './partition.repository';
export { PartitionService } from './partition.service';
export { PartitionsController } from './partitions.controller';
export { PartitionsModule } from './partitions.module';
