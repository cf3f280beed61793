import { Controller, Get, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthUser, ROLES } from 'src/common/auth/auth.types';
import { JwtAuthGuard } from 'src/common/auth/jwt-auth.guard';
import { Roles } from 'src/common/auth/roles.decorator';
import { AdminApi } from 'src/query/api-docs.decorator';
import { ExportQuery } from 'src/query/dto/export.query';
import { ExportService } from 'src/query/export.service';

/** Not `@Audited()`: ExportService records the export itself, with the row count, once the stream ends. */
@Controller('audit/export')
@UseGuards(JwtAuthGuard)
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
