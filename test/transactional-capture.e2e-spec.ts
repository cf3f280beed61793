import {
  Body,
  CanActivate,
  Controller,
  Delete,
  ExecutionContext,
  INestApplication,
  Injectable,
  Module,
  Param,
  Patch,
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Account, toAccountView } from '../demo/accounts/account.entity';
import { Audited, AuditModule, AuditService } from '../src/audit';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

/** The app's own auth, reduced to a header for this test. */
@Injectable()
class HeaderAuth implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    req.user = { sub: req.headers['x-user'], org: 'org-tx' };
    return true;
  }
}

/** How a user would opt a sensitive resource into exact, in-transaction capture. */
@Controller('tx-accounts')
@UseGuards(HeaderAuth)
@Audited({ consistency: 'transactional', entity: Account, resourceType: 'account' })
class TxAccountsController {
  constructor(private readonly dataSource: DataSource) {}

  @Patch(':id')
  rename(@Param('id') id: string, @Body() body: { name: string; fail?: boolean }) {
    return this.dataSource.transaction(async (manager) => {
      const account = await manager.findOneByOrFail(Account, { id });
      account.name = body.name;
      const saved = await manager.save(account);
      await new Promise((resolve) => setTimeout(resolve, 5)); // widen the race window
      if (body.fail) throw new Error('payment provider unavailable');
      return toAccountView(saved);
    });
  }

  @Delete(':id')
  remove(@Param('id') id: string) {
    return this.dataSource.transaction(async (manager) => {
      await manager.remove(await manager.findOneByOrFail(Account, { id }));
    });
  }
}

describe("@Audited({ consistency: 'transactional' })", () => {
  let db: TestDatabase;
  let app: INestApplication;

  const insertAccount = async (name: string): Promise<string> =>
    (
      await db.sql.query(
        `INSERT INTO accounts (organization_id, name, email, plan, password_hash)
         VALUES ('org-tx', $1, 'tx@example.com', 'free', 'scrypt$x$y') RETURNING id`,
        [name],
      )
    ).rows[0].id;

  beforeAll(async () => {
    db = await createTestDatabase();
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(db.url)),
        AuditModule.forRoot({ flushIntervalMs: 50, personalData: false }), // states compared in clear
      ],
      controllers: [TxAccountsController],
      providers: [HeaderAuth],
    })
    class TxAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [TxAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('records the exact committed before/after of concurrent updates: the versions form one chain', async () => {
    const id = await insertAccount('v0');
    const names = Array.from({ length: 12 }, (_, i) => `v${i + 1}`);
    const responses = await Promise.all(
      names.map((name) =>
        request(app.getHttpServer()).patch(`/tx-accounts/${id}`).set('x-user', 'carol').send({ name }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(names.map(() => 200));

    const { rows } = await db.sql.query(
      `SELECT before->>'name' AS before, after->>'name' AS after, changes, actor_id, organization_id, request_id
         FROM audit_events WHERE resource_id = $1 AND action = 'update'`,
      [id],
    );
    expect(rows).toHaveLength(12);
    // Follow the chain from v0: every step's before is the previous step's after, and it visits every update.
    const next = new Map(rows.map((r) => [r.before, r.after]));
    expect(next.size).toBe(12);
    let name = 'v0';
    for (let i = 0; i < 12; i++) name = next.get(name)!;
    const final = (await db.sql.query('SELECT name FROM accounts WHERE id = $1', [id])).rows[0].name;
    expect(name).toBe(final);
    expect(rows[0]).toMatchObject({ actor_id: 'carol', organization_id: 'org-tx' });
    expect(rows[0].request_id).toBeTruthy();
    expect(rows[0].changes).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'name' })]));
  });

  it('rolls the audit row back with a failed transaction and records the failure instead', async () => {
    const id = await insertAccount('stable');
    await request(app.getHttpServer())
      .patch(`/tx-accounts/${id}`)
      .set('x-user', 'dave')
      .send({ name: 'never-committed', fail: true })
      .expect(500);
    await app.get(AuditService).flush();
    const { rows } = await db.sql.query(
      `SELECT status, status_code, error_message, after FROM audit_events WHERE resource_id = $1`,
      [id],
    );
    expect(rows).toEqual([
      {
        status: 'failure',
        status_code: 500,
        error_message: 'Error: payment provider unavailable',
        after: null,
      },
    ]);
    expect((await db.sql.query('SELECT name FROM accounts WHERE id = $1', [id])).rows[0].name).toBe('stable');
  });

  it('records a removal with the locked before state', async () => {
    const id = await insertAccount('to-remove');
    await request(app.getHttpServer()).delete(`/tx-accounts/${id}`).set('x-user', 'erin').expect(200);
    const { rows } = await db.sql.query(
      `SELECT action, before, after FROM audit_events WHERE resource_id = $1`,
      [id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'delete', after: null });
    expect(rows[0].before).toMatchObject({ id, name: 'to-remove', passwordHash: '[REDACTED]' });
  });
});
