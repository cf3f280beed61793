import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Audited } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { AsOf, AsOfDiff, AsOfService } from './as-of.service';
import { AsOfDiffDto, AsOfDiffQuery, AsOfDto, AsOfQuery } from './dto/as-of.dto';
import { ResourcePathParams } from './dto/path-params';

/**
 * A resource's state at an instant, and the diff between two instants, rebuilt from its trail. Reads of
 * the trail, so recorded like the history (`audit-as-of.read`, `audit-as-of.diff`).
 */
@Controller('resources')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-as-of' })
@AdminApi('history')
export class AsOfController {
  constructor(private readonly asOf: AsOfService) {}

  @Get(':type/:id/as-of')
  @ApiOperation({
    summary: "A resource's state at an instant (exists: false before its first event and after a delete)",
  })
  @ApiOkResponse({ type: AsOfDto })
  stateAt(
    @Req() req: { user: AuthUser },
    @Param() params: ResourcePathParams,
    @Query() query: AsOfQuery,
  ): Promise<AsOf> {
    return this.asOf.asOf(req.user, params.type, params.id, query.at, query.organizationId);
  }

  @Get(':type/:id/diff')
  @Audited({ action: 'diff' })
  @ApiOperation({ summary: "A resource's states at two instants and the field changes between them" })
  @ApiOkResponse({ type: AsOfDiffDto })
  diff(
    @Req() req: { user: AuthUser },
    @Param() params: ResourcePathParams,
    @Query() query: AsOfDiffQuery,
  ): Promise<AsOfDiff> {
    return this.asOf.diff(req.user, params.type, params.id, query.from, query.to, query.organizationId);
  }
}
