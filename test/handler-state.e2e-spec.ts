import {
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
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource, Repository } from 'typeorm';
import { Account, toAccountView } from '../demo/accounts/account.entity';
import { Audited, AuditModule, AuditService } from '../src/audit';
import { HandlerStateWatch } from '../src/audit/handler-state/handler-state.watch';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

const ORG = 'org-hs';

@Injectable()
class HeaderAuth implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    req.user = { sub: 'hana', org: req.headers['x-org'] ?? ORG };
    return true;
  }
}

type Change = { plan: string; fail?: boolean };

/** The same update written the ways handlers write it, each route with `beforeState: 'handler'`. */
@Controller('hs')
@UseGuards(HeaderAuth)
@Audited({ entity: Account, resourceType: 'account', beforeState: 'handler' })
class HandlerStateController {
  constructor(@InjectRepository(Account) private readonly accounts: Repository<Account>) {}

  /** Load, change the loaded entity in place, save: the demo's pattern. */
  @Patch('find-then-save/:id')
  async findThenSave(@Param('id') id: string, @Body() body: Change) {
    const account = await this.accounts.findOneBy({ id, organizationId: ORG });
    if (!account) throw new NotFoundException();
    account.plan = body.plan;
    const saved = await this.accounts.save(account);
    if (body.fail) throw new Error('downstream failed after the save');
    return toAccountView(saved);
  }

  /** No load of its own: save() loads the row before writing it. */
  @Patch('save-only/:id')
  async saveOnly(@Param('id') id: string, @Body() body: Change) {
    await this.accounts.save({ id, plan: body.plan });
    return { id, plan: body.plan };
  }

  /** A partial load first (not the whole row), then save(): the before state is save()'s whole-row load. */
  @Patch('partial-then-save/:id')
  async partialThenSave(@Param('id') id: string, @Body() body: Change) {
    const account = await this.accounts.findOne({
      where: { id },
      select: { id: true, organizationId: true, plan: true },
    });
    if (!account) throw new NotFoundException();
    await this.accounts.save({ id, plan: body.plan });
    return { id, plan: body.plan };
  }

  /** Loads by id only, whatever the caller's organization (a handler bug the trail must not amplify). */
  @Patch('unscoped/:id')
  async unscoped(@Param('id') id: string, @Body() body: Change) {
    const account = await this.accounts.findOneByOrFail({ id });
    account.plan = body.plan;
    return toAccountView(await this.accounts.save(account));
  }
}

/** The default, for comparison: one primary-key read before the handler. */
@Controller('load')
@UseGuards(HeaderAuth)
@Audited({ entity: Account, resourceType: 'account' })
class LoadController {
  constructor(@InjectRepository(Account) private readonly accounts: Repository<Account>) {}

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: Change) {
    const account = await this.accounts.findOneByOrFail({ id, organizationId: ORG });
    account.plan = body.plan;
    return toAccountView(await this.accounts.save(account));
  }
}

describe("@Audited({ beforeState: 'handler' })", () => {
  let db: TestDatabase;
  let app: INestApplication;
  /** Primary-key reads the interceptor ran before handlers (the named statement on the pool), counted. */
  let beforeLoads = 0;

  const insertAccount = async (plan = 'free', org = ORG): Promise<string> =>
    (
      await db.sql.query(
        `INSERT INTO accounts (organization_id, name, email, plan, password_hash, password_updated_at)
         VALUES ($1, 'Hana', 'hana@example.com', $2, 'scrypt$x$y', now()) RETURNING id`,
        [org, plan],
      )
    ).rows[0].id;

  const patch = (path: string, body: Change, org = ORG) =>
    request(app.getHttpServer()).patch(path).set('x-org', org).send(body);

  const eventsOf = async (id: string) => {
    await app.get(AuditService).flush();
    const { rows } = await db.sql.query(
      `SELECT status, before, after, changes FROM audit_events WHERE resource_id = $1 ORDER BY occurred_at, id`,
      [id],
    );
    return rows;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(db.url)),
        TypeOrmModule.forFeature([Account]),
        AuditModule.forRoot({ flushIntervalMs: 50, personalData: false }), // states compared in clear
      ],
      controllers: [HandlerStateController, LoadController],
      providers: [HeaderAuth],
    })
    class HandlerStateAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HandlerStateAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.init();
    const pool = (
      app.get(DataSource).driver as unknown as { master: { query: (...args: never[]) => unknown } }
    ).master;
    const query = pool.query.bind(pool);
    pool.query = ((config: { name?: string }, ...rest: never[]) => {
      if (config?.name?.startsWith('audit_before_')) beforeLoads++;
      return query(config as never, ...rest);
    }) as typeof pool.query;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });
  beforeEach(() => {
    beforeLoads = 0;
  });

  it('takes the before state from the handler’s own load, not from a read of its own', async () => {
    const id = await insertAccount('free');
    const body = (await patch(`/hs/find-then-save/${id}`, { plan: 'pro' }).expect(200)).body;
    expect(body.plan).toBe('pro');
    expect(beforeLoads).toBe(0);

    const [event] = await eventsOf(id);
    // The handler changed the loaded entity in place: the before state is the copy taken at load time.
    expect(event.before).toMatchObject({ id, plan: 'free', organizationId: ORG, passwordHash: '[REDACTED]' });
    expect(event.after).toMatchObject({ id, plan: 'pro' });
    // updatedAt moved too, but it is one of the default ignored fields: never a change by itself.
    expect(event.changes).toEqual([expect.objectContaining({ path: 'plan', before: 'free', after: 'pro' })]);
    expect(event.after).toHaveProperty('updatedAt');
  });

  it('records the same event as the default read, which costs one query per mutation', async () => {
    const [viaHandler, viaLoad] = [await insertAccount('free'), await insertAccount('free')];
    await patch(`/hs/find-then-save/${viaHandler}`, { plan: 'team' }).expect(200);
    expect(beforeLoads).toBe(0);
    await patch(`/load/${viaLoad}`, { plan: 'team' }).expect(200);
    expect(beforeLoads).toBe(1);

    const [a] = await eventsOf(viaHandler);
    const [b] = await eventsOf(viaLoad);
    const withoutIds = (state: Record<string, unknown>) => {
      const { id: _id, createdAt: _c, updatedAt: _u, passwordUpdatedAt: _p, ...rest } = state;
      return rest;
    };
    expect(withoutIds(a.before)).toEqual(withoutIds(b.before));
    expect(Object.keys(a.before).sort()).toEqual(Object.keys(b.before).sort());
    expect(a.changes.map((c: { path: string }) => c.path)).toEqual(
      b.changes.map((c: { path: string }) => c.path),
    );
  });

  it('uses the load save() makes when the handler loads nothing itself', async () => {
    const id = await insertAccount('free');
    await patch(`/hs/save-only/${id}`, { plan: 'pro' }).expect(200);
    const [event] = await eventsOf(id);
    expect(event.before).toMatchObject({ id, plan: 'free', email: expect.any(String) });
    expect(event.changes).toEqual([expect.objectContaining({ path: 'plan', before: 'free', after: 'pro' })]);
    expect(beforeLoads).toBe(0);
  });

  it('does not take a partial load for the whole row', async () => {
    const id = await insertAccount('free');
    await patch(`/hs/partial-then-save/${id}`, { plan: 'pro' }).expect(200);
    const [event] = await eventsOf(id);
    expect(event.before).toMatchObject({ id, plan: 'free', organizationId: ORG, name: expect.anything() });
  });

  it("never records another organization's row as the before state", async () => {
    const id = await insertAccount('free', 'org-other');
    await patch(`/hs/unscoped/${id}`, { plan: 'pro' }, ORG).expect(200);
    const [event] = await eventsOf(id);
    expect(event.before).toBeNull();
    expect(event.after).toMatchObject({ id, plan: 'pro' });
  });

  it('gives each of many concurrent updates its own row’s before state', async () => {
    const plans = ['free', 'pro', 'team', 'enterprise'];
    const ids: string[] = [];
    for (const plan of plans) ids.push(await insertAccount(plan));
    await Promise.all(
      ids.map((id, i) => patch(`/hs/find-then-save/${id}`, { plan: plans[(i + 1) % 4] }).expect(200)),
    );
    for (const [i, id] of ids.entries()) {
      const [event] = await eventsOf(id);
      expect(event.before).toMatchObject({ id, plan: plans[i] });
      expect(event.after).toMatchObject({ id, plan: plans[(i + 1) % 4] });
    }
  });

  it('closes every slot, after successes and failures alike', async () => {
    const id = await insertAccount('free');
    await patch(`/hs/find-then-save/${id}`, { plan: 'pro', fail: true }).expect(500);
    await patch(`/hs/find-then-save/00000000-0000-4000-8000-000000000000`, { plan: 'pro' }).expect(404);
    expect(app.get(HandlerStateWatch).openSlots).toBe(0);
    const events = await eventsOf(id);
    // The handler saved, then threw: the committed change is in the failure event (re-read after the error).
    expect(events).toEqual([
      expect.objectContaining({
        status: 'failure',
        before: expect.objectContaining({ plan: 'free' }),
        after: expect.objectContaining({ plan: 'pro' }),
      }),
    ]);
  });
});
