import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { DestinationsService } from './destinations.service';
import {
  CreateDestinationBody,
  DeadLettersQuery,
  DestinationParams,
  ReplayBody,
} from './dto/destination.dto';

type AuthedRequest = Request & { user: AuthUser };

/**
 * Streaming destinations: an organization's admin (`audit:admin`) manages its own organization's; a
 * platform operator (`audit:platform`) every one, and those that receive every organization's events.
 */
@Controller('destinations')
@UseGuards(AuditAccessGuard)
@AdminApi('streaming')
@Roles(ROLES.admin, ROLES.platform)
export class DestinationsController {
  constructor(private readonly destinations: DestinationsService) {}

  @Get()
  @ApiOperation({
    summary: 'Destinations with their status (state, lag, backlog, delivered, errors, last success)',
  })
  list(@Req() req: AuthedRequest) {
    return this.destinations.list(req.user);
  }

  @Post()
  @ApiOperation({ summary: 'Add a destination (webhook, syslog, splunk-hec, datadog, s3, nats)' })
  create(@Req() req: AuthedRequest, @Body() body: CreateDestinationBody) {
    return this.destinations.create(req.user, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A destination and its status' })
  get(@Req() req: AuthedRequest, @Param() params: DestinationParams) {
    return this.destinations.get(req.user, params.id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a destination (with its cursors and dead letters)' })
  async remove(@Req() req: AuthedRequest, @Param() params: DestinationParams) {
    await this.destinations.remove(req.user, params.id);
  }

  @Post(':id/test')
  @HttpCode(200)
  @ApiOperation({ summary: 'Send one test event now and report what the receiver answered' })
  test(@Req() req: AuthedRequest, @Param() params: DestinationParams) {
    return this.destinations.testSend(req.user, params.id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause delivery (the cursor stays; nothing is lost)' })
  pause(@Req() req: AuthedRequest, @Param() params: DestinationParams) {
    return this.destinations.setState(req.user, params.id, 'paused');
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume delivery (after fixing what paused it)' })
  resume(@Req() req: AuthedRequest, @Param() params: DestinationParams) {
    return this.destinations.setState(req.user, params.id, 'active');
  }

  @Get(':id/dead-letters')
  @ApiOperation({ summary: 'Events the destination refused for good, not yet replayed' })
  deadLetters(
    @Req() req: AuthedRequest,
    @Param() params: DestinationParams,
    @Query() query: DeadLettersQuery,
  ) {
    return this.destinations.deadLetters(req.user, params.id, query.limit ?? 100);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send dead letters again (all, or these ids); the streamer does it on its next run',
  })
  replay(@Req() req: AuthedRequest, @Param() params: DestinationParams, @Body() body: ReplayBody) {
    return this.destinations.replay(req.user, params.id, body.ids);
  }
}
