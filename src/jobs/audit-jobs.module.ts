import { Module } from '@nestjs/common';
import { ArchiveJob } from '../archive/archive.job';
import { ArchiveModule } from '../archive/archive.module';
import { IntegrityCoreModule } from '../integrity/integrity-core.module';
import { IntegrityJob } from '../integrity/integrity.job';
import { PartitionMaintenanceJob } from '../partitions/partition-maintenance.job';
import { PartitionsModule } from '../partitions/partitions.module';
import { QueryModule } from '../query/query.module';
import { StatsRefreshJob } from '../query/stats-refresh.job';

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
