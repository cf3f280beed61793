import {
  BadRequestException,
  Body,
  CanActivate,
  Controller,
  ExecutionContext,
  INestApplication,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Patch,
  Post,
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource, Repository } from 'typeorm';
import { Account, toAccountView } from '../demo/accounts/account.entity';
import { ALL_MIGRATIONS, dataSourceOptions } from '../demo/data-source-options';
import { Audited, AuditModule, AuditService, AuditWalModule, WalCaptureService } from '../src/audit';
import { runMigrations } from '../src/common/database/migrate';
import { createOwnDatabase, OwnPostgres, startOwnPostgres } from './support/own-services';
import { pollUntil } from './support/poll';

/**
 * `@Audited({ consistency: 'wal' })` with AuditWalModule against a real Postgres started with wal_level=logical:
 * the committed rows come from the slot, the request's context from the transaction's logical message.
 */
const ORG = 'org-wal';
jest.setTimeout(60_000);
const run = promisify(execFile);

@Injectable()
class HeaderAuth implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    req.user = { sub: req.headers['x-user'] ?? 'wanda', org: ORG };
    return true;
  }
}

type Change = { plan: string };

@Controller('wal')
@UseGuards(HeaderAuth)
@Audited({ consistency: 'wal', resourceType: 'account' })
class WalAccountsController {
  constructor(
    @InjectRepository(Account) private readonly accounts: Repository<Account>,
    private readonly dataSource: DataSource,
  ) {}

  /** The demo's pattern: load, change, save() (its own transaction). */
  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: Change) {
    const account = await this.accounts.findOneBy({ id, organizationId: ORG });
    if (!account) throw new NotFoundException();
    account.plan = body.plan;
    return toAccountView(await this.accounts.save(account));
  }

  /** Saved, then a later step fails: the change is committed, the request is a failure. */
  @Post(':id/save-then-throw')
  async saveThenThrow(@Param('id') id: string, @Body() body: Change) {
    await this.accounts.update({ id }, { plan: body.plan });
    throw new BadRequestException('the step after the save failed');
  }

  /** Two writes in one transaction that then fails: nothing committed. */
  @Post(':id/rolled-back')
  async rolledBack(@Param('id') id: string, @Body() body: Change) {
    await this.dataSource.transaction(async (manager) => {
      await manager.update(Account, { id }, { plan: body.plan });
      await manager.update(Account, { id }, { name: 'never committed' });
      throw new BadRequestException('refused after writing');
    });
  }
}

@Module({
  imports: [TypeOrmModule.forFeature([Account])],
  controllers: [WalAccountsController],
})
class WalTestModule {}

describe("@Audited({ consistency: 'wal' }): capture from logical decoding", () => {
  let pg: OwnPostgres;
  let url: string;
  let app: INestApplication;
  let sql: Client;

  beforeAll(async () => {
    pg = await startOwnPostgres({ logical: true });
    url = await createOwnDatabase(pg, 'wal_capture');
    await runMigrations(url, { migrations: ALL_MIGRATIONS });
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(url)),
        AuditModule.forRoot({ spool: false, personalData: false, flushIntervalMs: 20 }),
        AuditWalModule.forRoot({ entities: [Account], flushIntervalMs: 20, lagPollMs: 200 }),
        WalTestModule,
      ],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    sql = new Client({ connectionString: url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await app?.close();
    await pg?.destroy();
  });

  const insertAccount = async (plan = 'free'): Promise<string> =>
    (
      await sql.query(
        `INSERT INTO accounts (organization_id, name, email, plan, password_hash, password_updated_at)
         VALUES ($1, 'Wanda', 'wanda@example.com', $2, 'scrypt$x$y', now()) RETURNING id`,
        [ORG, plan],
      )
    ).rows[0].id as string;

  interface Row {
    action: string;
    status: string;
    actor_type: string;
    actor_id: string | null;
    organization_id: string | null;
    request_id: string | null;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    changes: Array<{ path: string; before: unknown; after: unknown }> | null;
    metadata: Record<string, unknown> | null;
  }

  /** The account's events once the slot consumer has stored `count` (and the buffer its failures). */
  async function eventsOf(id: string, count: number): Promise<Row[]> {
    return pollUntil(
      `${count} events of ${id}`,
      async () => {
        await app.get(WalCaptureService).flush();
        await app.get(AuditService).flush();
        const { rows } = await sql.query<Row>(
          `SELECT action, status, actor_type, actor_id, organization_id, request_id, before, after, changes, metadata
             FROM audit_events WHERE resource_id = $1 ORDER BY occurred_at, id`,
          [id],
        );
        if (process.env.WAL_DEBUG)
          console.log(rows.length, rows.map((r) => `${r.action}/${r.status}/${r.actor_type}`).join(' '));
        return rows.length >= count ? rows : undefined;
      },
      30_000,
    );
  }

  it('concurrent updates of one row: an unbroken chain of before/after, each equal to what committed', async () => {
    const id = await insertAccount('free');
    const plans = Array.from(
      { length: 24 },
      (_, i) => ['pro', 'team', 'enterprise', 'free'][i % 4] + `-${i}`,
    );
    const answers = await Promise.all(
      plans.map((plan, i) =>
        request(app.getHttpServer())
          .patch(`/wal/${id}`)
          .set('x-user', `user-${i}`)
          .set('x-request-id', `req-${i}`)
          .send({ plan }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(plans.map(() => 200));
    const all = await eventsOf(id, 1 + plans.length);
    const updates = all.filter((e) => e.action === 'update');
    expect(updates).toHaveLength(plans.length);
    // Ordered by commit: each before is the previous after, the first before is the inserted row.
    const inserted = all.find((e) => e.action === 'create')!;
    expect(inserted.actor_type).toBe('database');
    let previous = inserted.after!;
    for (const event of updates) {
      expect(event.before).toEqual(previous);
      expect(event.changes).toEqual([
        expect.objectContaining({ path: 'plan', before: previous.plan, after: event.after!.plan }),
      ]);
      previous = event.after!;
    }
    const { rows } = await sql.query(`SELECT plan FROM accounts WHERE id = $1`, [id]);
    expect(previous.plan).toBe(rows[0].plan);
    // Each request's own context: its actor and request id, with the change it made.
    for (const event of updates) {
      const i = Number(event.request_id!.replace('req-', ''));
      expect(event).toMatchObject({ actor_type: 'user', actor_id: `user-${i}`, organization_id: ORG });
      expect(event.after!.plan).toBe(plans[i]);
      expect(event.metadata).toMatchObject({ wal: { database: { role: 'postgres' } } });
    }
    // Secrets never reach the trail from the WAL either.
    expect(JSON.stringify(all)).not.toContain('scrypt$x$y');
  });

  it('save then throw: the committed change with the request context, and the failure', async () => {
    const id = await insertAccount('free');
    const answer = await request(app.getHttpServer())
      .post(`/wal/${id}/save-then-throw`)
      .set('x-request-id', 'req-save-throw')
      .send({ plan: 'pro' });
    expect(answer.status).toBe(400);
    const { rows } = await pollUntil(
      'the change and the failure',
      async () => {
        await app.get(WalCaptureService).flush();
        await app.get(AuditService).flush();
        const found = await sql.query<Row>(
          `SELECT action, status, actor_type, actor_id, organization_id, request_id, before, after, changes, metadata
             FROM audit_events WHERE request_id = 'req-save-throw' ORDER BY status DESC`,
        );
        return found.rows.length >= 2 ? found : undefined;
      },
      30_000,
    );
    expect(rows.map((r) => [r.action, r.status])).toEqual([
      ['update', 'success'],
      ['create', 'failure'],
    ]);
    expect(rows[0]).toMatchObject({ actor_type: 'user', actor_id: 'wanda', organization_id: ORG });
    expect(rows[0].changes).toEqual([
      expect.objectContaining({ path: 'plan', before: 'free', after: 'pro' }),
    ]);
  });

  it('a rolled-back transaction records the failure and no change', async () => {
    const id = await insertAccount('free');
    const answer = await request(app.getHttpServer())
      .post(`/wal/${id}/rolled-back`)
      .set('x-request-id', 'req-rollback')
      .send({ plan: 'enterprise' });
    expect(answer.status).toBe(400);
    // A later committed write of the same row proves the slot went past the rolled-back one.
    await sql.query(`UPDATE accounts SET plan = 'after-rollback' WHERE id = $1`, [id]);
    const events = await eventsOf(id, 3);
    expect(events.filter((e) => e.action === 'update').map((e) => e.after!.plan)).toEqual(['after-rollback']);
    const { rows } = await sql.query<Row>(
      `SELECT action, status FROM audit_events WHERE request_id = 'req-rollback'`,
    );
    expect(rows).toEqual([{ action: 'create', status: 'failure' }]);
  });

  it("a psql UPDATE outside the app is a 'database' event with the role and application name", async () => {
    const id = await insertAccount('free');
    const psql = '/usr/lib/postgresql/15/bin/psql';
    await run(
      psql,
      [url, '-v', 'ON_ERROR_STOP=1', '-c', `UPDATE accounts SET plan = 'psql-plan' WHERE id = '${id}'`],
      {
        env: { ...process.env, PGAPPNAME: 'psql' },
      },
    );
    const events = await eventsOf(id, 2);
    const update = events.find((e) => e.action === 'update')!;
    expect(update).toMatchObject({
      status: 'success',
      actor_type: 'database',
      actor_id: 'postgres',
      organization_id: ORG,
      request_id: null,
      metadata: expect.objectContaining({
        wal: expect.objectContaining({ database: { role: 'postgres', application: 'psql' } }),
      }),
    });
    expect(update.changes).toEqual([
      expect.objectContaining({ path: 'plan', before: 'free', after: 'psql-plan' }),
    ]);
  });

  it('reports the slot: lag in /metrics terms, readiness details', async () => {
    const status = await pollUntil(
      'the slot caught up',
      async () => {
        await app.get(WalCaptureService).flush();
        const s = await app.get(WalCaptureService).poll();
        // Unrelated WAL (the trail's own COPYs) is confirmed once the server answers the consumer's ping.
        return s.state && s.state.lagBytes < 16_384 && s.consuming ? s : undefined;
      },
      30_000,
    );
    expect(status).toMatchObject({ slot: 'nest_audit_wal', problem: null, state: { walStatus: 'reserved' } });
  });
});
