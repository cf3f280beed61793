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
import { TypeOrmModule } from '@nestjs/typeorm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Audited, AuditModule, AuditService, AuditStateLoader } from '../src/audit';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

interface Order {
  id: string;
  status: string;
  /** A child collection (order lines, each with its id). */
  lines: Array<{ id: number; sku: string; qty: number }>;
  /** A many-to-many link, as the ids the API returns. */
  tagIds: string[];
  updatedAt: string;
  version: number;
  syncedAt: string;
  lastViewedAt: string;
}

const ORDERS = new Map<string, Order>();

@Injectable()
class OrderLoader implements AuditStateLoader {
  async load(id: string) {
    return ORDERS.get(id) ? structuredClone(ORDERS.get(id)) : null;
  }
}

@Injectable()
class FixedActor implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    context.switchToHttp().getRequest().user = { id: 'u-orders', organizationId: 'org-orders' };
    return true;
  }
}

/** Every PATCH bumps updatedAt and version, as an ORM would; the body replaces the other fields it names. */
@Controller('orders')
@UseGuards(FixedActor)
@Audited({ resourceType: 'order', loader: OrderLoader, ignoredFields: ['syncedAt'] })
class OrdersController {
  @Patch(':id')
  update(@Param('id') id: string, @Body() body: Partial<Order>) {
    const order = ORDERS.get(id)!;
    Object.assign(order, body, { updatedAt: new Date().toISOString(), version: order.version + 1 });
    return structuredClone(order);
  }
}

/**
 * Relationships and noise on the real capture path (interceptor, COPY into Postgres): a child collection
 * and a many-to-many link diffed as added/removed ids, and updates of ignored fields only never recorded.
 */
describe('relationship diffs and ignored fields', () => {
  let db: TestDatabase;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(db.url)),
        AuditModule.forRoot({
          flushIntervalMs: 50,
          spool: { directory: mkdtempSync(join(tmpdir(), 'audit-spool-')) },
          personalData: false,
          ignoredFieldsByResource: { order: ['lastViewedAt'] },
        }),
      ],
      controllers: [OrdersController],
      providers: [FixedActor, OrderLoader],
    })
    class OrdersModule {}
    const moduleRef = await Test.createTestingModule({ imports: [OrdersModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  beforeEach(() => {
    ORDERS.set('o1', {
      id: 'o1',
      status: 'open',
      lines: [
        { id: 1, sku: 'A', qty: 1 },
        { id: 2, sku: 'B', qty: 1 },
      ],
      tagIds: ['t-red', 't-blue'],
      updatedAt: '2026-12-01T00:00:00.000Z',
      version: 1,
      syncedAt: '2026-12-01T00:00:00.000Z',
      lastViewedAt: '2026-12-01T00:00:00.000Z',
    });
  });

  const updates = async () => {
    await app.get(AuditService).flush(10_000);
    const { rows } = await db.sql.query(
      `SELECT changes, after FROM audit_events WHERE resource_type = 'order' AND action = 'update'
        ORDER BY occurred_at, id`,
    );
    return rows as Array<{ changes: unknown[]; after: Order }>;
  };

  it('records a child collection and a link list as added/removed ids, members by id', async () => {
    await db.sql.query(`SET audit.lifecycle = 'on'`);
    await db.sql.query(`DELETE FROM audit_events`);
    await request(app.getHttpServer())
      .patch('/orders/o1')
      .send({
        lines: [
          { id: 2, sku: 'B', qty: 5 },
          { id: 3, sku: 'C', qty: 1 },
        ],
        tagIds: ['t-blue', 't-green'],
      })
      .expect(200);
    const [event] = await updates();
    expect(event.changes).toEqual([
      { path: 'lines', added: [3], removed: [1] },
      { path: 'lines[2].qty', before: 1, after: 5 },
      {
        path: 'tagIds',
        before: ['t-red', 't-blue'],
        after: ['t-blue', 't-green'],
        added: ['t-green'],
        removed: ['t-red'],
      },
    ]);
    // The states stay whole: the ignored fields are in them, just never a change.
    expect(event.after).toMatchObject({ version: 2, lines: [{ id: 2 }, { id: 3 }] });
  });

  it('never records an update of ignored fields only (module default, per resource, per controller)', async () => {
    await db.sql.query(`DELETE FROM audit_events`);
    // updatedAt and version (defaults), lastViewedAt (per resource), syncedAt (decorator): nothing else.
    await request(app.getHttpServer())
      .patch('/orders/o1')
      .send({ syncedAt: '2026-12-02T00:00:00.000Z', lastViewedAt: '2026-12-02T00:00:00.000Z' })
      .expect(200);
    // Reordering a collection or list changes nothing either.
    await request(app.getHttpServer())
      .patch('/orders/o1')
      .send({
        lines: [
          { id: 2, sku: 'B', qty: 1 },
          { id: 1, sku: 'A', qty: 1 },
        ],
      })
      .expect(200);
    expect(await updates()).toEqual([]);

    await request(app.getHttpServer()).patch('/orders/o1').send({ status: 'paid' }).expect(200);
    const [event] = await updates();
    expect(event.changes).toEqual([{ path: 'status', before: 'open', after: 'paid' }]);
  });
});
