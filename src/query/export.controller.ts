import { Controller, Get, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { ExportQuery } from './dto/export.query';
import { ExportService } from './export.service';

/** Not `@Audited()`: ExportService records the export itself, with the row count, once the stream ends. */
@Controller('export')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@AdminApi('export')
export class ExportController {
  constructor(private readonly exports: ExportService) {}

  @Get()
  @ApiOperation({ summary: 'Stream every matching event as NDJSON or CSV (constant memory)' })
  @ApiProduces('application/x-ndjson', 'text/csv')
  @ApiOkResponse({ description: 'NDJSON (one event per line) or CSV with a header row' })
  export(
    @Req() req: Request & { user: AuthUser; requestId?: string },
    @Query() query: ExportQuery,
    @Res() res: Response,
  ) {
    return this.exports.export(req.user, query, res, req.requestId);
  }
}
