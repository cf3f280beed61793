import { Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Audited } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';
import { GroupPageQuery } from './dto/list-events.query';
import { RequestPathParams, TransactionPathParams } from './dto/path-params';
import { EventPageDto } from './dto/responses';
import { EventPage, EventsService } from './events.service';

/** Everything one request did, across resources: its events by request id, oldest first. */
@Controller('requests')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-request', idParam: 'requestId' })
@AdminApi('grouping')
export class RequestsController {
  constructor(private readonly events: EventsService) {}

  @Get(':requestId')
  @ApiOperation({
    summary: "One request's events across resources, oldest first (keyset pagination)",
    description: "Tenant-scoped: another organization's request reads as an empty page.",
  })
  @ApiOkResponse({ type: EventPageDto })
  request(
    @Req() req: { user: AuthUser },
    @Param() params: RequestPathParams,
    @Query() query: GroupPageQuery,
  ): Promise<EventPage> {
    return this.events.byRequest(req.user, params.requestId, query);
  }
}

/**
 * Everything one Postgres transaction wrote: the events of transactional capture
 * (`consistency: 'transactional'`) carry the transaction's id (`transactionId`, xid8).
 */
@Controller('transactions')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin)
@Audited({ resourceType: 'audit-transaction', idParam: 'txid' })
@AdminApi('grouping')
export class TransactionsController {
  constructor(private readonly events: EventsService) {}

  @Get(':txid')
  @ApiOperation({
    summary: "One transaction's events across resources, oldest first (keyset pagination)",
    description:
      "Only transactional capture records transaction ids. Tenant-scoped: another organization's events are not listed.",
  })
  @ApiOkResponse({ type: EventPageDto })
  transaction(
    @Req() req: { user: AuthUser },
    @Param() params: TransactionPathParams,
    @Query() query: GroupPageQuery,
  ): Promise<EventPage> {
    return this.events.byTransaction(req.user, params.txid, query);
  }
}
