import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Audited } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { ResourcePathParams } from './dto/path-params';
import { PageQuery } from './dto/list-events.query';
import { EventPageDto } from './dto/responses';
import { EventPage, EventsService } from './events.service';

@Controller('resources')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-history' })
@AdminApi('history')
export class ResourcesController {
  constructor(private readonly events: EventsService) {}

  @Get(':type/:id/history')
  @ApiOperation({ summary: "A resource's history, oldest first, each step with its diff" })
  @ApiOkResponse({ type: EventPageDto })
  history(
    @Req() req: { user: AuthUser },
    @Param() params: ResourcePathParams,
    @Query() query: PageQuery,
  ): Promise<EventPage> {
    return this.events.history(req.user, params.type, params.id, query);
  }
}
