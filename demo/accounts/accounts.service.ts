import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { AuditActor, AuditService } from 'nest-audit-trail';
import { randomBytes, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { In, Repository } from 'typeorm';
import { Account, AccountView, toAccountView } from './account.entity';
import { CreateAccountDto, UpdateAccountDto } from './dto/account.dto';
import { BulkUpdateAccountsDto } from './dto/bulk-update.dto';

/**
 * How the demo's accounts are captured: `transactional` (default; each write's audit row in its own
 * transaction), `request` (DEMO_AUDIT_CONSISTENCY=request: the buffered capture the benchmarks measure) or
 * `wal` (DEMO_AUDIT_CONSISTENCY=wal: row changes from the WAL, AuditWalModule; needs wal_level=logical).
 */
export const ACCOUNTS_CONSISTENCY: 'request' | 'transactional' | 'wal' =
  process.env.DEMO_AUDIT_CONSISTENCY === 'request' || process.env.DEMO_AUDIT_CONSISTENCY === 'wal'
    ? process.env.DEMO_AUDIT_CONSISTENCY
    : 'transactional';

/** Who made a bulk change, and why, for its `recordBulk()` event in request mode. */
export interface BulkContext {
  actor: Partial<AuditActor>;
  requestId?: string;
  reason?: string;
}

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Tenant-scoped accounts: every query is filtered by the caller's organization. */
@Injectable()
export class AccountsService {
  constructor(
    @InjectRepository(Account) private readonly accounts: Repository<Account>,
    private readonly audit: AuditService,
  ) {}

  async create(organizationId: string, dto: CreateAccountDto): Promise<AccountView> {
    const account = this.accounts.create({
      organizationId,
      name: dto.name,
      email: dto.email,
      plan: dto.plan,
      passwordHash: await hashPassword(dto.password),
      passwordUpdatedAt: new Date(),
    });
    return toAccountView(await this.accounts.save(account));
  }

  async list(organizationId: string, limit = 100): Promise<AccountView[]> {
    const rows = await this.accounts.find({
      where: { organizationId },
      order: { createdAt: 'DESC' },
      take: limit,
    });
    return rows.map(toAccountView);
  }

  async get(organizationId: string, id: string): Promise<AccountView> {
    return toAccountView(await this.find(organizationId, id));
  }

  async update(organizationId: string, id: string, dto: UpdateAccountDto): Promise<AccountView> {
    const account = await this.find(organizationId, id);
    const { password, ...fields } = dto;
    // Only the fields the request names: a DTO instance declares the others as undefined (class fields),
    // which would blank them in the returned view.
    Object.assign(
      account,
      Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)),
    );
    if (password !== undefined) {
      account.passwordHash = await hashPassword(password);
      account.passwordUpdatedAt = new Date();
    }
    return toAccountView(await this.accounts.save(account));
  }

  /**
   * One plan for many accounts, in ONE transaction, with TypeORM `save()`: transactional capture records one
   * `account.update` per changed row, all with this request's id and the transaction's id. In request mode
   * no per-row states are captured, so the change is recorded as one `account.bulk-update` event
   * (`recordBulk()`: the ids and their count). Every id must be an account of the organization (404 naming
   * the first that is not, and nothing is changed).
   */
  async bulkUpdate(
    organizationId: string,
    dto: BulkUpdateAccountsDto,
    context: BulkContext,
  ): Promise<AccountView[]> {
    const saved = await this.accounts.manager.transaction(async (manager) => {
      const rows = await manager.find(Account, {
        where: { id: In(dto.ids), organizationId },
        order: { id: 'ASC' }, // one lock order for concurrent bulk updates
      });
      const found = new Set(rows.map((row) => row.id));
      const missing = dto.ids.find((id) => !found.has(id));
      if (missing) throw new NotFoundException(`Account ${missing} not found`);
      for (const row of rows) row.plan = dto.plan;
      return manager.save(rows);
    });
    if (ACCOUNTS_CONSISTENCY === 'request') {
      this.audit.recordBulk({
        action: 'update',
        resourceType: 'account',
        ids: saved.map((row) => row.id),
        actor: { ...context.actor, organizationId },
        requestId: context.requestId,
        reason: context.reason,
        metadata: { plan: dto.plan },
      });
    }
    return saved.map(toAccountView);
  }

  /** Loaded, then removed with `remove()`: the audit's transactional capture sees (and locks) the row. */
  async remove(organizationId: string, id: string): Promise<void> {
    await this.accounts.remove(await this.find(organizationId, id));
  }

  private async find(organizationId: string, id: string): Promise<Account> {
    const account = await this.accounts.findOneBy({ id, organizationId });
    if (!account) throw new NotFoundException(`Account ${id} not found`);
    return account;
  }
}
