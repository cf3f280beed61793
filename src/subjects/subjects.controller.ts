import {
  BadRequestException,
  Controller,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  UseGuards,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { organizationScope } from '../common/auth/tenant-scope';
import { EraseSubjectParams, EraseSubjectQuery, ErasureResultDto } from './dto/erase.dto';
import { SubjectsService } from './subjects.service';

@Controller('subjects')
@UseGuards(AuditAccessGuard)
@AdminApi('subjects')
export class SubjectsController {
  constructor(private readonly subjects: SubjectsService) {}

  @Post(':subjectId/erase')
  @HttpCode(200)
  @Roles(ROLES.admin)
  @ApiOperation({
    summary:
      "Erase a data subject's personal data (GDPR): its keys are destroyed, its values read as [erased] everywhere",
  })
  @ApiOkResponse({ type: ErasureResultDto })
  erase(
    @Req() req: Request & { user: AuthUser; requestId?: string },
    @Param() params: EraseSubjectParams,
    @Query() query: EraseSubjectQuery,
  ) {
    const organizationId = organizationScope(req.user, query.organizationId) ?? req.user.org;
    if (!organizationId) throw new BadRequestException(['organizationId is required with audit:read:all']);
    return this.subjects.erase(req.user, organizationId, params.subjectId, req.requestId);
  }
}
