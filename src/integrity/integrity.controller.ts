import {
  BadRequestException,
  Controller,
  Get,
  Query,
  Req,
  Res,
  StreamableFile,
  UseGuards,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { IntegrityStatusDto } from './dto/status.response';
import { IntegrityStatusQuery, VerifyQuery } from './dto/verify.query';
import { IntegrityService } from './integrity.service';
import { AdminApi } from '../common/http/admin-api.decorator';
import { IntegrityStatus } from './verification';

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
  @ApiProduces('application/json', 'application/x-ndjson')
  @ApiOkResponse({
    description:
      '`ok`, `checkedEvents`, `firstBroken` ({kind, id, reason}), per-chain reports. With progress=ndjson, ' +
      'application/x-ndjson: `{"type":"start","totalEvents":N|null}` (N: the events the seals of the range count), ' +
      '`{"type":"progress","checkedEvents":n,"totalEvents":N}` (events read so far; every ~250 ms or 50,000 events), ' +
      'then one `{"type":"result",...report}` or `{"type":"error","message":"verification failed"}`. ' +
      'Every verification is recorded (see /integrity/status).',
  })
  verify(
    @Req() req: Request & { user: AuthUser },
    @Query() query: VerifyQuery,
    @Res({ passthrough: true }) res: Response,
  ) {
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from >= to) throw new BadRequestException(['from must be before to']);
    if (query.progress !== 'ndjson')
      return this.integrity.verify(req.user, { from, to }, query.organizationId);
    const lines = this.integrity.verifyStream(req.user, { from, to }, query.organizationId);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Proxies that buffer responses (nginx) would hold the progress lines back.
    res.setHeader('X-Accel-Buffering', 'no');
    return new StreamableFile(lines, { type: 'application/x-ndjson' });
  }

  @Get('status')
  @Roles(ROLES.read, ROLES.readAll, ROLES.admin)
  @ApiOperation({
    summary: "An organization's integrity as recorded: last verification, newest checkpoint, chain",
  })
  @ApiOkResponse({
    type: IntegrityStatusDto,
    description:
      '`organizationId` (null: every chain, audit:read:all without organizationId); `lastVerification`: the ' +
      'latest verification run through the API for it, `{startedAt, finishedAt, ok, checkedEvents, firstBroken ' +
      '{kind, id, reason, organizationId}, from, to}` (from/to: the range verified, null = open) or null; ' +
      '`newestCheckpoint`: the newest signed checkpoint as stored (checked by a verification, not here), ' +
      '`{id, organizationId, seq (the seal it signs), signedAt, keyId}` or null; `chain`: `{seals, ' +
      'sealedEvents (events the seals cover), lastSealAt, pendingBatches (transactional batches queued for ' +
      'chaining)}`, or null when the chain has no seal and nothing queued.',
  })
  status(@Req() req: { user: AuthUser }, @Query() query: IntegrityStatusQuery): Promise<IntegrityStatus> {
    return this.integrity.status(req.user, query.organizationId);
  }

  @Get('public-keys')
  @Roles(ROLES.read, ROLES.readAll, ROLES.admin)
  @ApiOperation({ summary: 'Public keys (Ed25519) that verify the signed checkpoints, by key id' })
  publicKeys() {
    return { items: this.integrity.publicKeys() };
  }
}
