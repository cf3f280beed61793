import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { poolFromDataSource } from '../common/database/pg-pool';
import { ActorSummaryService } from './actor-summary.service';
import { AsOfRepository } from './as-of.repository';
import { AsOfService } from './as-of.service';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';
import { EXPORT_POOL, ExportService } from './export.service';
import { QueryCache } from './query-cache.service';
import { StatsRepository } from './stats.repository';
import { StatsService } from './stats.service';

/** The services behind the admin read API (search, history, activity and summary, stats, export); no routes, no jobs. */
@Module({
  providers: [
    EventsService,
    EventsRepository,
    AsOfService,
    AsOfRepository,
    ActorSummaryService,
    ExportService,
    StatsService,
    StatsRepository,
    QueryCache,
    {
      // Exports get their own few connections: a long export never starves the API's pool.
      provide: EXPORT_POOL,
      useFactory: (dataSource: DataSource) => poolFromDataSource(dataSource, 4, 'nest-audit-trail:export'),
      inject: [DataSource],
    },
  ],
  exports: [
    EventsService,
    AsOfService,
    ActorSummaryService,
    ExportService,
    StatsService,
    StatsRepository,
    QueryCache,
  ],
})
export class QueryModule {}
