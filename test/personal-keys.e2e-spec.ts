import {
  Body,
  CanActivate,
  Controller,
  ExecutionContext,
  INestApplication,
  Injectable,
  Module,
  Post,
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Audited, AuditModule, AuditService } from '../src/audit';
import { dataSourceOptions } from '../demo/data-source-options';
import { createTestDatabase, TestDatabase } from './support/test-db';

@Injectable()
class FixedActor implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    context.switchToHttp().getRequest().user = { sub: 'u-orders', org: 'org-orders' };
    return true;
  }
}

/** An order whose personal fields are named the ways real schemas name them, none of them `email` or `phone`. */
@Controller('orders')
@UseGuards(FixedActor)
@Audited({ resourceType: 'order' })
class OrdersController {
  @Post()
  create(@Body() body: Record<string, unknown>) {
    return { id: 'order-1', ...body };
  }
}

const ORDER = {
  customerEmail: 'ada.customer.4417@example.org',
  contact_email: 'ada.contact.4417@example.org',
  billingPhone: '+44 20 7946 4417',
  ipAddress: '198.51.100.44',
  zip: 'EC1A 1BB',
  planName: 'team-annual-4417',
};

describe('Personal data keys by pattern (customerEmail, contact_email, billingPhone, ipAddress)', () => {
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
          personalData: { encryptionKey: Buffer.alloc(32, 7) },
        }),
      ],
      controllers: [OrdersController],
      providers: [FixedActor],
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

  it('stores the personal fields only as ciphertext and the harmless neighbours in clear', async () => {
    await request(app.getHttpServer()).post('/orders').send(ORDER).expect(201);
    await app.get(AuditService).flush();
    const { rows } = await db.sql.query(
      `SELECT after, after::text AS text FROM audit_events WHERE resource_type = 'order' AND action = 'create'`,
    );
    expect(rows).toHaveLength(1);
    const [{ after, text }] = rows;
    for (const key of ['customerEmail', 'contact_email', 'billingPhone', 'ipAddress'] as const) {
      expect(text).not.toContain(ORDER[key]);
      expect(after[key]).toMatch(/^pii:v1:[A-Za-z0-9_-]{22}:/);
    }
    expect(after).toMatchObject({ id: 'order-1', zip: ORDER.zip, planName: ORDER.planName });
  });
});
