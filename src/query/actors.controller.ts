import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Audited } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { ActorSummary, ActorSummaryService } from './actor-summary.service';
import { ActorSummaryQuery } from './dto/actor-summary.query';
import { ListEventsQuery } from './dto/list-events.query';
import { ActorPathParams } from './dto/path-params';
import { ActorSummaryDto, EventPageDto } from './dto/responses';
import { EventPage, EventsService } from './events.service';

@Controller('actors')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-activity' })
@AdminApi('activity')
export class ActorsController {
  constructor(
    private readonly events: EventsService,
    private readonly summaries: ActorSummaryService,
  ) {}

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

  @Get(':id/summary')
  @ApiOperation({
    summary:
      "One actor's events per action over [from, to) (default the last 30 days, at most 366), counted live",
    description:
      "Tenant-scoped like the activity: another organization's actor counts nothing (total 0), it is never a 404 or 403.",
  })
  @ApiOkResponse({ type: ActorSummaryDto })
  summary(
    @Req() req: { user: AuthUser },
    @Param() params: ActorPathParams,
    @Query() query: ActorSummaryQuery,
  ): Promise<ActorSummary> {
    return this.summaries.summary(req.user, params.id, query);
  }
}
