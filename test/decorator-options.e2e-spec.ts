import {
  Body,
  CanActivate,
  Controller,
  ExecutionContext,
  Get,
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
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { Audited, AuditModule, AuditService, AuditStateLoader, NoAudit } from '../src/audit';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

type Doc = { id: string; title: string; meta: { internalNote: string; tags: string[] } };

/** A resource that does not live in Postgres at all: its state comes from a loader provider. */
@Injectable()
class DocumentStore implements AuditStateLoader {
  readonly docs = new Map<string, Doc>([
    ['d1', { id: 'd1', title: 'Draft', meta: { internalNote: 'do not leak', tags: ['a'] } }],
    ['d2', { id: 'd2', title: 'Other', meta: { internalNote: 'private', tags: [] } }],
  ]);
  async load(id: string): Promise<unknown> {
    return structuredClone(this.docs.get(id));
  }
}

@Injectable()
class ServiceAuth implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    context.switchToHttp().getRequest().user = {
      id: 'svc-indexer',
      organizationId: 'org-d',
      actorType: 'service',
    };
    return true;
  }
}

@Controller('documents')
@UseGuards(ServiceAuth)
@Audited({ resourceType: 'document', loader: DocumentStore, redact: ['meta.internalNote'] })
class DocumentsController {
  constructor(private readonly store: DocumentStore) {}

  @Get()
  list() {
    return { items: [...this.store.docs.values()], total: this.store.docs.size };
  }

  @Get('ping')
  @NoAudit()
  ping() {
    return { ok: true };
  }

  @Patch(':id')
  update(@Param('id') id: string, @Body() body: { title: string }) {
    const doc = this.store.docs.get(id);
    if (!doc) throw new NotFoundException();
    doc.title = body.title;
    return doc;
  }

  @Post(':id/publish')
  @Audited({ action: 'publish', severity: 'critical', reads: false })
  publish(@Param('id') id: string) {
    return { id, published: true };
  }
}

describe('@Audited() options', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const rows = async (where: string) => {
    await app.get(AuditService).flush();
    return (await db.sql.query(`SELECT * FROM audit_events WHERE ${where} ORDER BY occurred_at`)).rows;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(db.url)),
        AuditModule.forRootAsync({
          // Plaintext IPs and names are what these cases read (personal-data encryption has its own tests).
          useFactory: async () => ({ flushIntervalMs: 50, trustedProxies: ['loopback'], maxListIds: 1, personalData: false }),
        }),
      ],
      controllers: [DocumentsController],
      providers: [DocumentStore, ServiceAuth],
    })
    class DocsAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [DocsAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('loads the before state through a loader provider and redacts per-decorator paths', async () => {
    await request(app.getHttpServer()).patch('/documents/d1').send({ title: 'Final' }).expect(200);
    const [event] = await rows(`action = 'update'`);
    expect(event).toMatchObject({
      resource_type: 'document',
      resource_id: 'd1',
      actor_id: 'svc-indexer',
      actor_type: 'service',
      organization_id: 'org-d',
    });
    expect(event.before).toEqual({
      id: 'd1',
      title: 'Draft',
      meta: { internalNote: '[REDACTED]', tags: ['a'] },
    });
    expect(event.after.meta.internalNote).toBe('[REDACTED]');
    expect(event.changes).toEqual([{ path: 'title', before: 'Draft', after: 'Final' }]);
    expect(JSON.stringify(await rows('true'))).not.toContain('do not leak');
  });

  it('merges handler options over class options (custom action, severity)', async () => {
    await request(app.getHttpServer()).post('/documents/d1/publish').expect(201);
    const [event] = await rows(`action = 'publish'`);
    expect(event).toMatchObject({ event_type: 'document.publish', severity: 'critical', status_code: 201 });
  });

  it('skips @NoAudit() handlers and caps list ids', async () => {
    await request(app.getHttpServer()).get('/documents/ping').expect(200);
    await request(app.getHttpServer()).get('/documents').expect(200);
    expect(await rows(`route LIKE '%ping%'`)).toHaveLength(0);
    const [list] = await rows(`action = 'list'`);
    expect(list.metadata).toEqual({ count: 2, ids: ['d1'], idsTruncated: true });
  });

  it('uses X-Forwarded-For behind a trusted proxy (loopback here)', async () => {
    await request(app.getHttpServer()).get('/documents').set('X-Forwarded-For', '198.51.100.7').expect(200);
    const events = await rows(`action = 'list'`);
    expect(events[events.length - 1].ip).toBe('198.51.100.7');
  });
});
