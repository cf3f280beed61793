import {
  BadRequestException,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Optional,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  UseGuards,
} from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { ArchiveError } from './archive.errors';
import { ArchiveService } from './archive.service';
import { ArchiveReportDto, ArchiveViewDto, RestoreResultDto } from './dto/responses';
import { RestoreService } from './restore.service';
import { AuditService } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { DryRunQuery } from '../partitions';
import { AdminApi } from '../common/http/admin-api.decorator';

type AuthedRequest = Request & { user: AuthUser; requestId?: string };

@Controller('archives')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.platform)
@AdminApi('archives')
export class ArchiveController {
  constructor(
    private readonly archives: ArchiveService,
    private readonly restores: RestoreService,
    @Optional() private readonly audit?: AuditService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Cold archives (and those being made): partition, range, state, rows, bytes, SHA-256',
  })
  @ApiOkResponse({ type: [ArchiveViewDto] })
  async list(): Promise<ArchiveViewDto[]> {
    return (await this.archives.list()).map((a) => ({
      id: a.id,
      partition: a.partitionName,
      from: a.rangeFrom.toISOString(),
      to: a.rangeTo.toISOString(),
      state: a.state,
      rows: a.rowCount,
      bytes: a.byteSize,
      tableBytes: a.tableBytes,
      sha256: a.sha256,
      format: a.format,
      storageUrl: a.storageUrl,
      dataKey: a.dataKey,
      manifestKey: a.manifestKey,
      createdAt: a.createdAt.toISOString(),
      exportedAt: a.exportedAt?.toISOString() ?? null,
      droppedAt: a.droppedAt?.toISOString() ?? null,
      expiredAt: a.expiredAt?.toISOString() ?? null,
    }));
  }

  @Post('run')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run the archive job now (hot -> warm -> cold -> expired); dryRun reports only' })
  @ApiOkResponse({ type: ArchiveReportDto })
  @ApiConflictResponse({ description: 'Another instance is running the archive job' })
  async run(@Query() query: DryRunQuery) {
    const report = await this.archives.run(query.dryRun ?? false);
    if (!report) throw new ConflictException('Another instance is running the archive job');
    return report;
  }

  @Post(':id/restore')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Verify a cold archive and load it into a table of its own for an investigation; dryRun verifies only',
  })
  @ApiOkResponse({ type: RestoreResultDto })
  @ApiUnprocessableEntityResponse({ description: 'The stored file does not match its checksum: refused' })
  async restore(
    @Req() req: AuthedRequest,
    @Param(
      'id',
      new ParseUUIDPipe({ exceptionFactory: () => new BadRequestException(['id must be a UUID']) }),
    )
    id: string,
    @Query() query: DryRunQuery,
  ) {
    const record = (
      status: 'success' | 'failure',
      metadata: Record<string, unknown>,
      errorMessage?: string,
    ) =>
      this.audit?.record({
        action: 'restore',
        resourceType: 'audit-archive',
        resourceId: id,
        severity: 'critical',
        actor: { id: req.user.sub, organizationId: req.user.org, type: 'user' },
        requestId: req.requestId,
        status,
        errorMessage,
        metadata,
      });
    try {
      const result = await this.restores.restore(id, undefined, query.dryRun ?? false);
      record('success', { table: result.table, rows: result.rows, dryRun: result.dryRun });
      return result;
    } catch (error) {
      if (!(error instanceof ArchiveError)) throw error;
      record('failure', { code: error.code }, error.message);
      throw error.toHttp();
    }
  }
}
