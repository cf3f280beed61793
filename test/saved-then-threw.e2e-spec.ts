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
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { Repository } from 'typeorm';
import { Account, toAccountView } from '../demo/accounts/account.entity';
import { Audited, AuditModule, AuditService } from '../src/audit';
import { HandlerStateWatch } from '../src/audit/handler-state/handler-state.watch';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

const ORG = 'org-st';

@Injectable()
class HeaderAuth implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    context.switchToHttp().getRequest().user = { sub: 'sam', org: ORG };
    return true;
  }
}

type Change = { plan: string; failBeforeSave?: boolean };

/** Handlers that commit their change and then fail (a downstream call after the save), in request mode. */
@Controller('st')
@UseGuards(HeaderAuth)
@Audited({ entity: Account, resourceType: 'account' })
class SavedThenThrewController {
  constructor(@InjectRepository(Account) private readonly accounts: Repository<Account>) {}

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: Change) {
    const account = await this.accounts.findOneByOrFail({ id, organizationId: ORG });
    account.plan = body.plan;
    if (body.failBeforeSave) throw new Error('validation failed before the save');
    await this.accounts.save(account);
    throw new Error('billing webhook failed after the save');
  }

  /** The same with the before state taken from the handler's own load. */
  @Patch('handler/:id')
  @Audited({ beforeState: 'handler' })
  async updateWithHandlerState(@Param('id') id: string, @Body() body: Change) {
    return this.update(id, body);
  }

  @Delete(':id')
  async remove(@Param('id') id: string) {
    await this.accounts.delete({ id, organizationId: ORG });
    throw new Error('search index update failed after the delete');
  }

  /** Succeeds, for comparison: the event the failure's should look like. */
  @Patch('ok/:id')
  async updateOk(@Param('id') id: string, @Body() body: Change) {
    const account = await this.accounts.findOneByOrFail({ id, organizationId: ORG });
    account.plan = body.plan;
    return toAccountView(await this.accounts.save(account));
  }
}

describe('A handler that commits its change and then throws', () => {
  let db: TestDatabase;
  let app: INestApplication;

  const insertAccount = async (plan = 'free'): Promise<string> =>
    (
      await db.sql.query(
        `INSERT INTO accounts (organization_id, name, email, plan, password_hash)
         VALUES ($1, 'Sam', 'sam@example.com', $2, 'scrypt$x$y') RETURNING id`,
        [ORG, plan],
      )
    ).rows[0].id;
  const eventsOf = async (id: string) => {
    await app.get(AuditService).flush();
    const { rows } = await db.sql.query(
      `SELECT action, status, status_code, error_message, before, after, changes
         FROM audit_events WHERE resource_id = $1 ORDER BY occurred_at, id`,
      [id],
    );
    return rows;
  };
  const paths = (changes: Array<{ path: string }> | null) => (changes ?? []).map((c) => c.path).sort();

  beforeAll(async () => {
    db = await createTestDatabase();
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(db.url)),
        TypeOrmModule.forFeature([Account]),
        AuditModule.forRoot({ flushIntervalMs: 50, personalData: false }),
      ],
      controllers: [SavedThenThrewController],
      providers: [HeaderAuth],
    })
    class SavedThenThrewModule {}
    const moduleRef = await Test.createTestingModule({ imports: [SavedThenThrewModule] }).compile();
    app = moduleRef.createNestApplication({ logger: [] });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it.each(['', 'handler/'])(
    'records the committed change on the failure event: before, after and diff (route /st/%s:id)',
    async (route) => {
      const id = await insertAccount('free');
      await request(app.getHttpServer()).patch(`/st/${route}${id}`).send({ plan: 'pro' }).expect(500);
      expect((await db.sql.query('SELECT plan FROM accounts WHERE id = $1', [id])).rows[0].plan).toBe('pro');

      const [event, ...others] = await eventsOf(id);
      expect(others).toEqual([]);
      expect(event).toMatchObject({
        action: 'update',
        status: 'failure',
        status_code: 500,
        error_message: 'Error: billing webhook failed after the save',
        before: { id, plan: 'free' },
        after: { id, plan: 'pro' },
      });
      expect(event.changes).toEqual(expect.arrayContaining([{ path: 'plan', before: 'free', after: 'pro' }]));
      // The same fields as a successful update's diff of the same change.
      const okId = await insertAccount('free');
      await request(app.getHttpServer()).patch(`/st/ok/${okId}`).send({ plan: 'pro' }).expect(200);
      const [ok] = await eventsOf(okId);
      expect(paths(event.changes)).toEqual(paths(ok.changes));
    },
  );

  it('records a failure that committed nothing as before: no states', async () => {
    const id = await insertAccount('free');
    await request(app.getHttpServer())
      .patch(`/st/${id}`)
      .send({ plan: 'pro', failBeforeSave: true })
      .expect(500);
    expect(await eventsOf(id)).toEqual([
      expect.objectContaining({ status: 'failure', before: null, after: null, changes: null }),
    ]);
  });

  it('records a committed delete on the failure event: the before state, no after', async () => {
    const id = await insertAccount('free');
    await request(app.getHttpServer()).delete(`/st/${id}`).expect(500);
    expect((await db.sql.query('SELECT 1 FROM accounts WHERE id = $1', [id])).rowCount).toBe(0);
    expect(await eventsOf(id)).toEqual([
      expect.objectContaining({
        action: 'delete',
        status: 'failure',
        error_message: 'Error: search index update failed after the delete',
        before: expect.objectContaining({ id, plan: 'free' }),
        after: null,
      }),
    ]);
  });

  it('closes every slot afterwards', () => {
    expect(app.get(HandlerStateWatch).openSlots).toBe(0);
  });
});
