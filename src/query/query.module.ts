import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { poolFromDataSource } from 'src/common/database/pg-pool';
import { ActorsController } from 'src/query/actors.controller';
import { EventsController } from 'src/query/events.controller';
import { EventsRepository } from 'src/query/events.repository';
import { EventsService } from 'src/query/events.service';
import { ExportController } from 'src/query/export.controller';
import { EXPORT_POOL, ExportService } from 'src/query/export.service';
import { QueryCache } from 'src/query/query-cache.service';
import { ResourcesController } from 'src/query/resources.controller';
import { StatsRefreshJob } from 'src/query/stats-refresh.job';
import { StatsController } from 'src/query/stats.controller';
import { StatsRepository } from 'src/query/stats.repository';
import { StatsService } from 'src/query/stats.service';

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
