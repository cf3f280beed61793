import {
  Body,
  CanActivate,
  Controller,
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
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { Repository } from 'typeorm';
import { Account, toAccountView } from '../demo/accounts/account.entity';
import { Audited, AuditModule, AuditService } from '../src/audit';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

const ORG = 'org-cc';
const FIELDS = ['name', 'email', 'plan'] as const;
type Field = (typeof FIELDS)[number];

@Injectable()
class HeaderAuth implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    context.switchToHttp().getRequest().user = { sub: 'cc-user', org: ORG };
    return true;
  }
}

/**
 * The demo's update in request mode (the default): load, change, some async work (the demo hashes a new
 * password there), save() (which writes only the columns that differ from its own reload of the row).
 */
@Controller('cc-accounts')
@UseGuards(HeaderAuth)
@Audited({ entity: Account, resourceType: 'account' })
class ConcurrentAccountsController {
  constructor(@InjectRepository(Account) private readonly accounts: Repository<Account>) {}

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: Partial<Record<Field, string>> & { workMs: number }) {
    const account = await this.accounts.findOneByOrFail({ id, organizationId: ORG });
    const { workMs, ...fields } = body;
    Object.assign(account, fields);
    await sleep(workMs);
    return toAccountView(await this.accounts.save(account));
  }
}

describe('Concurrent request-mode updates of one row', () => {
  let db: TestDatabase;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Every committed version of a row, in commit order: concurrent UPDATEs of one row wait on its lock, so
    // the trigger runs (and takes its sequence number) in the order the writes commit.
    await db.sql.query(`
      CREATE TABLE account_versions (seq bigserial PRIMARY KEY, id uuid, name text, email text, plan text);
      CREATE FUNCTION record_account_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO account_versions (id, name, email, plan) VALUES (NEW.id, NEW.name, NEW.email, NEW.plan);
        RETURN NEW;
      END $$;
      CREATE TRIGGER account_versions AFTER UPDATE ON accounts
        FOR EACH ROW EXECUTE FUNCTION record_account_version();`);
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(db.url)),
        TypeOrmModule.forFeature([Account]),
        AuditModule.forRoot({ flushIntervalMs: 50, personalData: false }),
      ],
      controllers: [ConcurrentAccountsController],
      providers: [HeaderAuth],
    })
    class ConcurrentAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ConcurrentAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it("records each update's committed after state: the final row is the last committed event's after", async () => {
    for (let round = 0; round < 8; round++) {
      const id: string = (
        await db.sql.query(
          `INSERT INTO accounts (organization_id, name, email, plan, password_hash)
           VALUES ($1, 'n0', 'e0@example.com', 'p0', 'scrypt$x$y') RETURNING id`,
          [ORG],
        )
      ).rows[0].id;
      // Six writers, two per field, each a value of its own: its commit is the first version holding it.
      const writes = Array.from({ length: 6 }, (_, i) => {
        const field = FIELDS[i % 3];
        return { requestId: `cc-${round}-${i}`, field, value: `${field}-${round}-${i}` };
      });
      await Promise.all(
        writes.map(({ requestId, field, value }, i) =>
          request(app.getHttpServer())
            .patch(`/cc-accounts/${id}`)
            .set('X-Request-Id', requestId)
            .send({ [field]: value, workMs: (i * 3 + round) % 7 })
            .expect(200),
        ),
      );
      await app.get(AuditService).flush();

      const versions = (
        await db.sql.query('SELECT seq, name, email, plan FROM account_versions WHERE id = $1 ORDER BY seq', [
          id,
        ])
      ).rows as Array<Record<Field | 'seq', string>>;
      const events = new Map(
        (
          await db.sql.query(`SELECT request_id, after FROM audit_events WHERE resource_id = $1`, [id])
        ).rows.map((row) => [row.request_id as string, row.after as Record<Field, string>]),
      );
      const committedAt = (write: (typeof writes)[number]) =>
        versions.findIndex((version) => version[write.field] === write.value);
      const final = versions[versions.length - 1];
      const context = `round ${round}: versions ${JSON.stringify(versions)}`;

      for (const write of writes) {
        expect(committedAt(write)).toBeGreaterThanOrEqual(0);
        // What this update committed for the field it wrote.
        expect({ context, value: events.get(write.requestId)?.[write.field] }).toEqual({
          context,
          value: write.value,
        });
      }
      const last = writes.reduce((a, b) => (committedAt(b) > committedAt(a) ? b : a));
      const lastAfter = events.get(last.requestId)!;
      expect({ context, after: FIELDS.map((f) => lastAfter[f]) }).toEqual({
        context,
        after: FIELDS.map((f) => final[f]),
      });
    }
  });
});
