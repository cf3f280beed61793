import { Controller, Get, Query, Req, UseGuards } from '@nestjs/common';
import { AuthUser, ROLES } from 'src/common/auth/auth.types';
import { JwtAuthGuard } from 'src/common/auth/jwt-auth.guard';
import { Roles } from 'src/common/auth/roles.decorator';
import { ListEventsQuery } from 'src/query/dto/list-events.query';
import { EventPage, EventsService } from 'src/query/events.service';

@Controller('audit/events')
@UseGuards(JwtAuthGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  list(@Req() req: { user: AuthUser }, @Query() query: ListEventsQuery): Promise<EventPage> {
    return this.events.list(req.user, query);
  }
}
