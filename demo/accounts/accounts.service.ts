import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { Repository } from 'typeorm';
import { Account, AccountView, toAccountView } from './account.entity';
import { CreateAccountDto, UpdateAccountDto } from './dto/account.dto';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Tenant-scoped accounts: every query is filtered by the caller's organization. */
@Injectable()
export class AccountsService {
  constructor(@InjectRepository(Account) private readonly accounts: Repository<Account>) {}

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
    Object.assign(account, fields);
    if (password !== undefined) {
      account.passwordHash = await hashPassword(password);
      account.passwordUpdatedAt = new Date();
    }
    return toAccountView(await this.accounts.save(account));
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
