import { Controller, Get, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AuthUser, ROLES } from 'src/common/auth/auth.types';
import { JwtAuthGuard } from 'src/common/auth/jwt-auth.guard';
import { Roles } from 'src/common/auth/roles.decorator';
import { AdminApi } from 'src/query/api-docs.decorator';
import { StatsResponseDto } from 'src/query/dto/responses';
import { StatsQuery } from 'src/query/dto/stats.query';
import { StatsResponse, StatsService } from 'src/query/stats.service';

@Controller('audit/stats')
@UseGuards(JwtAuthGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@AdminApi('stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ApiOperation({ summary: 'Dashboard figures from the materialized views (see refreshedAt for freshness)' })
  @ApiOkResponse({ type: StatsResponseDto })
  get(@Req() req: { user: AuthUser }, @Query() query: StatsQuery): Promise<StatsResponse> {
    return this.stats.get(req.user, query);
  }
}
