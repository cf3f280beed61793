import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AUDIT_CONFIG, AuditTrailConfig } from '../common/config/audit-config';
import { scheduleEvery } from '../common/scheduling/jobs';
import { MAINTENANCE_JOB, PartitionService } from './partition.service';

/**
 * Partition maintenance at boot and every `partitions.intervalMs`: partitions ahead, DEFAULT's stray rows,
 * search indexes of closed partitions (in the background: a large backlog must not hold up start-up).
 * Every replica ticks; the maintenance lock lets one work.
 */
@Injectable()
export class PartitionMaintenanceJob implements OnApplicationBootstrap {
  constructor(
    private readonly partitions: PartitionService,
    private readonly scheduler: SchedulerRegistry,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.partitions.maintainTracked();
    setImmediate(() => void this.partitions.indexInBackground());
    scheduleEvery(this.scheduler, MAINTENANCE_JOB, this.config.audit.partitionIntervalMs, () => void this.partitions.tick());
  }
}
