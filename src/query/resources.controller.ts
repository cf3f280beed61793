import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Audited } from 'src/audit';
import { AuthUser, ROLES } from 'src/common/auth/auth.types';
import { JwtAuthGuard } from 'src/common/auth/jwt-auth.guard';
import { Roles } from 'src/common/auth/roles.decorator';
import { AdminApi } from 'src/query/api-docs.decorator';
import { ResourcePathParams } from 'src/query/dto/path-params';
import { PageQuery } from 'src/query/dto/list-events.query';
import { EventPageDto } from 'src/query/dto/responses';
import { EventPage, EventsService } from 'src/query/events.service';

@Controller('audit/resources')
@UseGuards(JwtAuthGuard)
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
