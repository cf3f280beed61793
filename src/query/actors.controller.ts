import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Audited } from 'src/audit';
import { AuthUser, ROLES } from 'src/common/auth/auth.types';
import { JwtAuthGuard } from 'src/common/auth/jwt-auth.guard';
import { Roles } from 'src/common/auth/roles.decorator';
import { AdminApi } from 'src/query/api-docs.decorator';
import { ListEventsQuery } from 'src/query/dto/list-events.query';
import { ActorPathParams } from 'src/query/dto/path-params';
import { EventPageDto } from 'src/query/dto/responses';
import { EventPage, EventsService } from 'src/query/events.service';

@Controller('audit/actors')
@UseGuards(JwtAuthGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-activity' })
@AdminApi('activity')
export class ActorsController {
  constructor(private readonly events: EventsService) {}

  @Get(':id/activity')
  @ApiOperation({ summary: 'What one actor did, newest first (same filters as /audit/events)' })
  @ApiOkResponse({ type: EventPageDto })
  activity(
    @Req() req: { user: AuthUser },
    @Param() params: ActorPathParams,
    @Query() query: ListEventsQuery,
  ): Promise<EventPage> {
    return this.events.activity(req.user, params.id, query);
  }
}
