import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { poolFromDataSource } from '../common/database/pg-pool';
import { DestinationsService } from './destinations.service';
import { AUDIT_STREAMING_POOL } from './streaming.tokens';

/** Destinations and their tables, shared by the admin API and the streamer. */
@Module({
  providers: [
    {
      provide: AUDIT_STREAMING_POOL,
      useFactory: (dataSource: DataSource) => poolFromDataSource(dataSource, 8, 'nest-audit-trail:streaming'),
      inject: [DataSource],
    },
    DestinationsService,
  ],
  exports: [DestinationsService],
})
export class StreamingCoreModule {}
