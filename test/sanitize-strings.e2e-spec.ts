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
  Post,
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Audited, AuditModule, AuditModuleOptions, AuditService } from '../src/audit';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Strings Postgres refuses inside JSON (NUL, lone surrogates of both halves) or in text (NUL). */
const BAD = 'a\u0000b\ud800c\udfffd';
/** What a stored event holds instead: each refused character replaced by U+FFFD. */
const STORED = 'a\ufffdb\ufffdc\ufffdd';

/** The actor comes from headers (as a JWT claim would): the test sends bad characters there too. */
@Injectable()
class HeaderActor implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    request.user = { id: `u-${BAD}`, organizationId: `org-${BAD}` };
    return true;
  }
}

/** Echoes the body as the resource's state: whatever a client sends ends up in the event. */
@Controller('things')
@UseGuards(HeaderActor)
@Audited({ resourceType: 'thing' })
class ThingsController {
  @Post()
  create(@Body() body: Record<string, unknown>) {
    return { id: 't1', ...body };
  }

  @Patch(':id')
  update(@Param('id') id: string, @Body() body: Record<string, unknown>) {
    return { id, ...body };
  }
}

async function startThingsApp(databaseUrl: string, options: AuditModuleOptions): Promise<INestApplication> {
  @Module({
    imports: [
      TypeOrmModule.forRoot(dataSourceOptions(databaseUrl)),
      AuditModule.forRoot({
        flushIntervalMs: 50,
        spool: { directory: mkdtempSync(join(tmpdir(), 'audit-spool-')) },
        ...options,
      }),
    ],
    controllers: [ThingsController],
    providers: [HeaderActor],
  })
  class ThingsModule {}
  const moduleRef = await Test.createTestingModule({ imports: [ThingsModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  await app.init();
  return app;
}

describe.each(['memory', 'redis'] as const)('Strings Postgres refuses, in %s mode', (mode) => {
  let db: TestDatabase;
  let app: INestApplication;
  let audit: AuditService;
  let redis: Redis | undefined;
  const streamKey = `audit-test:${randomBytes(6).toString('hex')}`;

  const rows = async (where: string, params: unknown[]) =>
    (
      await db.sql.query(
        `SELECT actor_id, organization_id, resource_id, before, after, changes, metadata FROM audit_events WHERE ${where}`,
        params,
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    if (mode === 'redis') redis = new Redis(REDIS_URL);
    app = await startThingsApp(
      db.url,
      mode === 'redis' ? { delivery: 'redis', redis: { url: REDIS_URL, streamKey, consumers: 1 } } : {},
    );
    audit = app.get(AuditService);
  });
  afterAll(async () => {
    await app?.close();
    await redis?.del(streamKey, `${streamKey}:dead`);
    redis?.disconnect();
    await db?.drop();
  });

  it('records an HTTP mutation whose body, keys and actor hold them: one event, characters replaced', async () => {
    const body = { title: BAD, [`key${BAD}`]: 1, nested: { list: [BAD, `\ud83d`] } };
    await request(app.getHttpServer()).post('/things').send(body).expect(201);
    await request(app.getHttpServer()).patch('/things/t-bad').send({ title: BAD }).expect(200);
    expect(await audit.flush(10_000)).toBe(true);

    const created = await rows(`resource_id = 't1'`, []);
    expect(created).toHaveLength(1);
    expect(created[0].actor_id).toBe(`u-${STORED}`);
    expect(created[0].organization_id).toBe(`org-${STORED}`);
    expect(created[0].after).toEqual({
      id: 't1',
      title: STORED,
      [`key${STORED}`]: 1,
      nested: { list: [STORED, '\ufffd'] },
    });
    expect(await rows(`resource_id = 't-bad'`, [])).toHaveLength(1);
    expect(audit.stats().poisoned).toBe(0);
  });

  it('records record() and recordDurable() events with them in states, metadata and the actor', async () => {
    audit.record({
      action: 'update',
      resourceType: 'job',
      resourceId: `r1-${BAD}`,
      actor: { id: BAD, organizationId: BAD, type: 'service' },
      before: { title: 'before' },
      after: { title: BAD },
      metadata: { note: BAD, [BAD]: BAD },
    });
    expect(
      await audit.recordDurable({
        action: 'export',
        resourceType: 'job',
        resourceId: 'r2',
        actor: { id: BAD, organizationId: 'org-x' },
        metadata: { list: [BAD, { [BAD]: BAD }] },
      }),
    ).not.toBeNull();
    expect(await audit.flush(10_000)).toBe(true);

    const first = await rows(`resource_id = $1`, [`r1-${STORED}`]);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      actor_id: STORED,
      organization_id: STORED,
      after: { title: STORED },
      metadata: { note: STORED, [STORED]: STORED },
      changes: [{ path: 'title', before: 'before', after: STORED }],
    });
    const second = await rows(`resource_id = 'r2'`, []);
    expect(second).toHaveLength(1);
    expect(second[0].metadata).toEqual({ list: [STORED, { [STORED]: STORED }] });
    expect(audit.stats().poisoned).toBe(0);
  });
});
