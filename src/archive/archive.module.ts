import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { ARCHIVE_POOL, ArchiveRepository } from './archive.repository';
import { ArchiveTransferRepository } from './archive-transfer.repository';
import { ArchiveService } from './archive.service';
import { ARCHIVE_STORAGE } from './archive.tokens';
import { RestoreService } from './restore.service';
import { ParquetArchiveService } from './parquet/parquet-archive.service';
import { ParquetRestore } from './parquet/parquet-restore';
import { ArchiveQueryService } from './parquet/archive-query.service';
import { createArchiveStorage } from './storage/create-archive-storage';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { poolFromDataSource } from '../common/database/pg-pool';
import { PartitionsModule } from '../partitions';

/** Hot -> warm -> cold -> expired tiers of closed partitions, and restore of cold archives (no routes, no job). */
@Module({
  imports: [PartitionsModule],
  providers: [
    ArchiveRepository,
    ArchiveTransferRepository,
    ArchiveService,
    RestoreService,
    ParquetArchiveService,
    ParquetRestore,
    ArchiveQueryService,
    {
      // Its own connections: the lock holder and long COPY streams never take the API's. One for the run's
      // lock, one per export stream, one for restore or a listing meanwhile.
      provide: ARCHIVE_POOL,
      useFactory: (dataSource: DataSource, config: AuditTrailConfig) =>
        poolFromDataSource(dataSource, 2 + config.archive.exportStreams, 'nest-audit-trail:archive'),
      inject: [DataSource, AUDIT_CONFIG],
    },
    {
      provide: ARCHIVE_STORAGE,
      useFactory: (config: AuditTrailConfig) => createArchiveStorage(config.archive),
      inject: [AUDIT_CONFIG],
    },
  ],
  exports: [ArchiveService, RestoreService, ArchiveQueryService],
})
export class ArchiveModule implements OnApplicationShutdown {
  constructor(@Inject(ARCHIVE_POOL) private readonly pool: Pool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
