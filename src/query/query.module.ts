import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { poolFromDataSource } from '../common/database/pg-pool';
import { ActorsController } from './actors.controller';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';
import { ExportController } from './export.controller';
import { EXPORT_POOL, ExportService } from './export.service';
import { QueryCache } from './query-cache.service';
import { ResourcesController } from './resources.controller';
import { StatsRefreshJob } from './stats-refresh.job';
import { StatsController } from './stats.controller';
import { StatsRepository } from './stats.repository';
import { StatsService } from './stats.service';

/** The admin read API: search, by id, history, activity, stats, export. */
@Module({
  controllers: [EventsController, ResourcesController, ActorsController, StatsController, ExportController],
  providers: [
    EventsService,
    EventsRepository,
    ExportService,
    StatsService,
    StatsRepository,
    StatsRefreshJob,
    QueryCache,
    {
      // Exports get their own few connections: a long export never starves the API's pool.
      provide: EXPORT_POOL,
      useFactory: (dataSource: DataSource) => poolFromDataSource(dataSource, 4, 'nest-audit-trail:export'),
      inject: [DataSource],
    },
  ],
})
export class QueryModule {}
