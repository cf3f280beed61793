import { BadRequestException, Controller, Get, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { VerifyQuery } from './dto/verify.query';
import { IntegrityService } from './integrity.service';
import { AdminApi } from '../common/http/admin-api.decorator';

@Controller('integrity')
@UseGuards(AuditAccessGuard)
@AdminApi('integrity')
export class IntegrityController {
  constructor(private readonly integrity: IntegrityService) {}

  @Get('verify')
  @Roles(ROLES.admin)
  @ApiOperation({
    summary:
      'Verify the hash chain of an organization over a time range: checked count, first broken link, checkpoint',
  })
  @ApiOkResponse({
    description: '`ok`, `checkedEvents`, `firstBroken` ({kind, id, reason}), per-chain reports',
  })
  verify(@Req() req: Request & { user: AuthUser }, @Query() query: VerifyQuery) {
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from >= to) throw new BadRequestException(['from must be before to']);
    return this.integrity.verify(req.user, { from, to }, query.organizationId);
  }

  @Get('public-keys')
  @Roles(ROLES.read, ROLES.readAll, ROLES.admin)
  @ApiOperation({ summary: 'Public keys (Ed25519) that verify the signed checkpoints, by key id' })
  publicKeys() {
    return { items: this.integrity.publicKeys() };
  }
}
