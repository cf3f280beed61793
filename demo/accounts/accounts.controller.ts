import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Audited, AuditIdentity as AuthUser } from 'nest-audit-trail';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { ACCOUNTS_CONSISTENCY, AccountsService } from './accounts.service';
import { CreateAccountDto, UpdateAccountDto } from './dto/account.dto';
import { BulkUpdateAccountsDto } from './dto/bulk-update.dto';

type AuthedRequest = {
  user: AuthUser;
  requestId?: string;
  headers: Record<string, string | string[] | undefined>;
};

/**
 * The demo domain: resource type `account` (from the controller's name), states from the `Account` entity.
 * Writes are captured `transactional`: each one's audit row is INSERTed in the write's own transaction, with
 * the row's exact before (locked) and after states, so concurrent updates of an account form one chain. The
 * service writes only with TypeORM `save()`/`remove()`, which that capture sees. Reads are access events.
 * DEMO_AUDIT_CONSISTENCY=request switches to the buffered request-mode capture, the path the benchmarks and
 * the crash test measure.
 */
@Controller('accounts')
@UseGuards(JwtAuthGuard)
@ApiTags('accounts (demo)')
@ApiBearerAuth()
@Audited({ consistency: ACCOUNTS_CONSISTENCY })
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  create(@Req() req: AuthedRequest, @Body() dto: CreateAccountDto) {
    return this.accounts.create(orgOf(req), dto);
  }

  @Get()
  list(@Req() req: AuthedRequest) {
    return this.accounts.list(orgOf(req));
  }

  @Get(':id')
  get(@Req() req: AuthedRequest, @Param('id', ParseUUIDPipe) id: string) {
    return this.accounts.get(orgOf(req), id);
  }

  /**
   * One plan for up to 500 accounts in one transaction. A reason is required (body `reason` or the
   * X-Audit-Reason header): without one the request is refused with a 400 before anything is changed.
   * Declared before `:id` so that `bulk` is not taken for an account id.
   */
  @Patch('bulk')
  @Audited({ consistency: ACCOUNTS_CONSISTENCY, reason: { bodyField: 'reason', required: true } })
  bulkUpdate(@Req() req: AuthedRequest, @Body() dto: BulkUpdateAccountsDto) {
    const header = req.headers['x-audit-reason'];
    return this.accounts.bulkUpdate(orgOf(req), dto, {
      actor: { id: req.user.sub },
      requestId: req.requestId,
      reason: dto.reason ?? (Array.isArray(header) ? header.join(', ') : header),
    });
  }

  @Patch(':id')
  update(@Req() req: AuthedRequest, @Param('id', ParseUUIDPipe) id: string, @Body() dto: UpdateAccountDto) {
    return this.accounts.update(orgOf(req), id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Req() req: AuthedRequest, @Param('id', ParseUUIDPipe) id: string) {
    await this.accounts.remove(orgOf(req), id);
  }
}

/** Accounts are tenant data: a token without an organization cannot reach them. */
function orgOf(req: AuthedRequest): string {
  if (!req.user.org) throw new ForbiddenException('Token has no organization (org claim)');
  return req.user.org;
}
