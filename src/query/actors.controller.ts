import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Audited } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { ListEventsQuery } from './dto/list-events.query';
import { ActorPathParams } from './dto/path-params';
import { EventPageDto } from './dto/responses';
import { EventPage, EventsService } from './events.service';

@Controller('actors')
@UseGuards(AuditAccessGuard)
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
