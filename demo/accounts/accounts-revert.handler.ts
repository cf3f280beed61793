import {
  BadRequestException,
  ForbiddenException,
  Injectable,
  UnprocessableEntityException,
} from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AuditRevertHandler, AuditRevertRequest } from 'nest-audit-trail';
import { AccountView } from './account.entity';
import { AccountsService } from './accounts.service';
import { UpdateAccountDto } from './dto/account.dto';

/** The fields an admin may restore on an account (registered with the handler in app.module.ts). */
export const REVERTIBLE_ACCOUNT_FIELDS = ['name', 'plan', 'email'];

/**
 * Reverts of accounts go through the same code as a PATCH: the changes become an UpdateAccountDto,
 * validated like a request body, and AccountsService.update() applies them in the caller's organization.
 * One rule of its own: a revert never puts an account on the enterprise plan (that needs a contract).
 */
@Injectable()
export class AccountsRevertHandler implements AuditRevertHandler {
  constructor(private readonly accounts: AccountsService) {}

  async revert(request: AuditRevertRequest): Promise<AccountView> {
    if (!request.organizationId)
      throw new ForbiddenException('Accounts are tenant data: a revert needs an organization');
    const fields: Record<string, unknown> = {};
    for (const change of request.changes) {
      if (!REVERTIBLE_ACCOUNT_FIELDS.includes(change.path)) {
        throw new BadRequestException(`${change.path} cannot be restored on an account`);
      }
      fields[change.path] = change.after;
    }
    if (fields.plan === 'enterprise') {
      throw new UnprocessableEntityException('plan enterprise is only set by a contract, never by a revert');
    }
    const dto = plainToInstance(UpdateAccountDto, fields);
    const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
    if (errors.length > 0) {
      throw new BadRequestException(errors.flatMap((error) => Object.values(error.constraints ?? {})));
    }
    return this.accounts.update(request.organizationId, request.resourceId, dto);
  }
}
