import { Module } from '@nestjs/common';
import { EventsController } from 'src/query/events.controller';
import { EventsRepository } from 'src/query/events.repository';
import { EventsService } from 'src/query/events.service';

@Module({
  controllers: [EventsController],
  providers: [EventsService, EventsRepository],
})
export class QueryModule {}
