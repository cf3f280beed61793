import {
  BadRequestException,
  Controller,
  Get,
  Param,
  ParseUUIDPipe,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Audited, NoAudit } from 'src/audit';
import { AuthUser, ROLES } from 'src/common/auth/auth.types';
import { JwtAuthGuard } from 'src/common/auth/jwt-auth.guard';
import { Roles } from 'src/common/auth/roles.decorator';
import { AdminApi } from 'src/query/api-docs.decorator';
import { ExportQuery } from 'src/query/dto/export.query';
import { ListEventsQuery } from 'src/query/dto/list-events.query';
import { AuditEventDto, ErrorDto, EventPageDto } from 'src/query/dto/responses';
import { EventPage, EventsService } from 'src/query/events.service';
import { ExportService } from 'src/query/export.service';

type AuthedRequest = Request & { user: AuthUser; requestId?: string };

/** Reads of the audit trail are themselves recorded as access events (`audit-event.list`/`.read`). */
@Controller('audit/events')
@UseGuards(JwtAuthGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-event' })
@AdminApi('events')
export class EventsController {
  constructor(
    private readonly events: EventsService,
    private readonly exports: ExportService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Search events, newest first (keyset pagination)' })
  @ApiOkResponse({ type: EventPageDto })
  list(@Req() req: AuthedRequest, @Query() query: ListEventsQuery): Promise<EventPage> {
    return this.events.list(req.user, query);
  }

  @Get('export')
  @NoAudit() // recorded by ExportService with the row count once the stream ends
  @ApiOperation({ summary: 'Stream every matching event as NDJSON or CSV (constant memory)' })
  @ApiProduces('application/x-ndjson', 'text/csv')
  @ApiOkResponse({ description: 'NDJSON (one event per line) or CSV with a header row' })
  export(@Req() req: AuthedRequest, @Query() query: ExportQuery, @Res() res: Response): Promise<void> {
    return this.exports.export(req.user, query, res, req.requestId);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One event' })
  @ApiOkResponse({ type: AuditEventDto })
  @ApiNotFoundResponse({
    type: ErrorDto,
    description: 'No such event in the organizations this token may read',
  })
  get(
    @Req() req: AuthedRequest,
    @Param(
      'id',
      new ParseUUIDPipe({ exceptionFactory: () => new BadRequestException(['id must be a UUID']) }),
    )
    id: string,
  ) {
    return this.events.get(req.user, id);
  }
}
