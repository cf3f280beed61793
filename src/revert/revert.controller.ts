import { BadRequestException, Body, Controller, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { Roles } from '../common/auth/roles.decorator';
import { organizationScope } from '../common/auth/tenant-scope';
import { AdminApi } from '../common/http/admin-api.decorator';
import { ErrorDto } from '../common/http/error.dto';
import {
  RevertRequestBody,
  RevertRequestParams,
  RevertResourceBody,
  RevertResourceParams,
} from './dto/revert.dto';
import { AuditRevertService } from './revert.service';

type AuthedRequest = Request & { user: AuthUser; requestId?: string };

/**
 * Reverts through the app's own handlers (an organization's administrators). Not `@Audited()`: each call
 * records what it did itself (a `revert` event per record, its failure, or the dry run's read).
 */
@Controller()
@UseGuards(AuditAccessGuard)
@Roles(ROLES.admin)
@AdminApi('revert')
@ApiConflictResponse({
  type: ErrorDto,
  description: 'Nothing to revert, the record was deleted, or no state to restore',
})
@ApiUnprocessableEntityResponse({
  type: ErrorDto,
  description: 'No handler for the resource type, or the handler refused (its message)',
})
export class RevertController {
  constructor(private readonly reverts: AuditRevertService) {}

  @Post('resources/:type/:id/revert')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Restore a record as an event left it (toEventId) or undo one event (undoEventId), through the app; dryRun shows the diff',
  })
  @ApiOkResponse({ description: 'RevertPreview (dryRun) or RevertResult' })
  revertResource(
    @Req() req: AuthedRequest,
    @Param() params: RevertResourceParams,
    @Body() body: RevertResourceBody,
  ) {
    if ((body.toEventId === undefined) === (body.undoEventId === undefined)) {
      throw new BadRequestException(['exactly one of toEventId, undoEventId is required']);
    }
    const input = {
      ...caller(req, body.organizationId, body.reason),
      resourceType: params.type,
      resourceId: params.id,
      toEventId: body.toEventId,
      undoEventId: body.undoEventId,
    };
    return body.dryRun ? this.reverts.preview(input) : this.reverts.revert(input);
  }

  @Post('requests/:requestId/revert')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Undo every update one request made (newest first), through the app; dryRun shows the diffs',
  })
  @ApiOkResponse({ description: 'RequestRevertPreview (dryRun) or RequestRevertResult' })
  revertRequest(
    @Req() req: AuthedRequest,
    @Param() params: RevertRequestParams,
    @Body() body: RevertRequestBody,
  ) {
    const input = { ...caller(req, body.organizationId, body.reason), revertRequestId: params.requestId };
    return body.dryRun ? this.reverts.previewRequest(input) : this.reverts.revertRequest(input);
  }
}

function caller(req: AuthedRequest, requested: string | undefined, reason: string | undefined) {
  const organizationId = organizationScope(req.user, requested) ?? req.user.org;
  if (!organizationId) throw new BadRequestException(['organizationId is required with audit:read:all']);
  const userAgent = req.headers['user-agent'];
  return {
    organizationId,
    actor: { id: req.user.sub, type: 'user' as const },
    reason,
    requestId: req.requestId,
    userAgent: typeof userAgent === 'string' ? userAgent : undefined,
  };
}
