import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { Request } from 'express';
import { Audited } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { EventIdPipe } from './dto/event-id.pipe';
import { ListEventsQuery } from './dto/list-events.query';
import { AuditEventDto, ErrorDto, EventPageDto } from './dto/responses';
import { EventPage, EventsService } from './events.service';

type AuthedRequest = Request & { user: AuthUser; requestId?: string };

/** Reads of the audit trail are themselves recorded as access events (`audit-event.list`/`.read`). */
@Controller('events')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-event' })
@AdminApi('events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @ApiOperation({ summary: 'Search events, newest first (keyset pagination)' })
  @ApiOkResponse({ type: EventPageDto })
  list(@Req() req: AuthedRequest, @Query() query: ListEventsQuery): Promise<EventPage> {
    return this.events.list(req.user, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One event' })
  @ApiOkResponse({ type: AuditEventDto })
  @ApiNotFoundResponse({
    type: ErrorDto,
    description: 'No such event in the organizations this token may read',
  })
  get(@Req() req: AuthedRequest, @Param('id', EventIdPipe) id: string) {
    return this.events.get(req.user, id);
  }
}
