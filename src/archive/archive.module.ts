import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { ArchiveController } from 'src/archive/archive.controller';
import { ArchiveJob } from 'src/archive/archive.job';
import { ARCHIVE_POOL, ArchiveRepository } from 'src/archive/archive.repository';
import { ArchiveService } from 'src/archive/archive.service';
import { ARCHIVE_STORAGE } from 'src/archive/archive.tokens';
import { RestoreService } from 'src/archive/restore.service';
import { createArchiveStorage } from 'src/archive/storage/create-archive-storage';
import { APP_CONFIG } from 'src/common/config/app-config.module';
import { AppConfig } from 'src/common/config/environment';
import { poolFromDataSource } from 'src/common/database/pg-pool';
import { PartitionsModule } from 'src/partitions/partitions.module';

/** Hot -> warm -> cold -> expired tiers of closed partitions, and restore of cold archives. */
@Module({
  imports: [PartitionsModule],
  controllers: [ArchiveController],
  providers: [
    ArchiveRepository,
    ArchiveService,
    RestoreService,
    ArchiveJob,
    {
      // Its own connections: the lock holder and long COPY streams never take the API's. One for the run's
      // lock, one per export stream, one for restore or a listing meanwhile.
      provide: ARCHIVE_POOL,
      useFactory: (dataSource: DataSource, config: AppConfig) =>
        poolFromDataSource(dataSource, 2 + config.archive.exportStreams, 'nest-audit-trail:archive'),
      inject: [DataSource, APP_CONFIG],
    },
    {
      provide: ARCHIVE_STORAGE,
      useFactory: (config: AppConfig) => createArchiveStorage(config.archive),
      inject: [APP_CONFIG],
    },
  ],
  exports: [ArchiveService, RestoreService],
})
export class ArchiveModule implements OnApplicationShutdown {
  constructor(@Inject(ARCHIVE_POOL) private readonly pool: Pool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
