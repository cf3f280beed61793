import { Module } from '@nestjs/common';
import { ArchiveJob } from '../archive';
import { ArchiveModule } from '../archive';
import { IntegrityCoreModule } from '../integrity';
import { IntegrityJob } from '../integrity';
import { PartitionMaintenanceJob } from '../partitions';
import { PartitionsModule } from '../partitions';
import { QueryModule } from '../query';
import { StatsRefreshJob } from '../query';

/**
 * The scheduled jobs: partitions ahead (at boot and hourly), stats views refresh, hot -> warm -> cold ->
 * expired archives, chain sealing and signed checkpoints. Safe on every replica (each job takes a Postgres
 * advisory lock). Import it in the API app or in a separate worker process; needs
 * `ScheduleModule.forRoot()` in the app and `AuditModule.forRoot()`.
 */
@Module({
  imports: [PartitionsModule, QueryModule, ArchiveModule, IntegrityCoreModule],
  providers: [PartitionMaintenanceJob, StatsRefreshJob, ArchiveJob, IntegrityJob],
})
export class AuditJobsModule {}
