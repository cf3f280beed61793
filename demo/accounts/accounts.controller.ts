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
import { AccountsService } from './accounts.service';
import { CreateAccountDto, UpdateAccountDto } from './dto/account.dto';

type AuthedRequest = { user: AuthUser };

/**
 * The demo domain. `@Audited()` alone: resource type `account`, before state from the `Account` entity (read by
 * primary key before the handler runs; the update takes it from the service's own load instead).
 */
@Controller('accounts')
@UseGuards(JwtAuthGuard)
@ApiTags('accounts (demo)')
@ApiBearerAuth()
@Audited()
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

  /** The service loads the account before saving it: its load is the before state, no extra query. */
  @Patch(':id')
  @Audited({ beforeState: 'handler' })
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
