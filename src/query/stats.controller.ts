import { Controller, Get, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { StatsResponseDto } from './dto/responses';
import { StatsQuery } from './dto/stats.query';
import { StatsResponse, StatsService } from './stats.service';

@Controller('stats')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@AdminApi('stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ApiOperation({
    summary: 'Dashboard figures from the materialized views (see refreshedAt for freshness)',
    description:
      'groupBy=day|action|resourceType|organization: `{key, events, failures}` (day adds distinctActors), by key. ' +
      'dayAction: `{key: day, action, events, failures}` by day then action. actor: the `limit` (1-100, default 10) ' +
      "actors with the most events, most first, from a view of the last 90 whole UTC days and today (key '' = no actor).",
  })
  @ApiOkResponse({ type: StatsResponseDto })
  get(@Req() req: { user: AuthUser }, @Query() query: StatsQuery): Promise<StatsResponse> {
    return this.stats.get(req.user, query);
  }
}
