import { INestApplication, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AuditJobsModule, AuditModule, AuditService, auditSearchPath, runMigrations } from '../src';
import { databaseUrl, TEST_ADMIN_URL } from './support/env';

const SCHEMA = 'audit_trail';

/** An app whose audit tables live in a schema of their own, found through the connection's search_path. */
function appModule(url: string, options: { searchPath: boolean }) {
  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url,
        extra: { max: 4, ...(options.searchPath ? { options: auditSearchPath(SCHEMA) } : {}) },
      }),
      ScheduleModule.forRoot(),
      AuditModule.forRoot({ spool: false, flushIntervalMs: 20 }),
      AuditJobsModule,
    ],
  })
  class SchemaAppModule {}
  return SchemaAppModule;
}

describe('the audit schema in a Postgres schema of its own', () => {
  const name = `audit_schema_${process.pid}_${randomBytes(3).toString('hex')}`;
  const url = databaseUrl(name);
  let admin: Client;
  let sql: Client;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    admin = new Client({ connectionString: TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    sql = new Client({ connectionString: url });
    await sql.connect();
    // The app's own table with a name the audit schema also knows in public would collide: it must not.
    await sql.query(`CREATE TABLE public.audit_events (id int PRIMARY KEY, note text)`);
  });
  afterAll(async () => {
    await app?.close();
    await sql?.end();
    await admin?.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin?.end();
  });

  it('migrates into the schema, leaving the app\'s tables alone, and refuses bad schema names', async () => {
    await expect(runMigrations(url, { schema: 'Bad Name"; DROP' })).rejects.toThrow(/lowercase SQL identifier/);
    const applied = await runMigrations(url, { schema: SCHEMA, logger: { log: () => undefined } });
    expect(applied).toContain('CreateAuditEvents1795390000000');
    const { rows } = await sql.query(
      `SELECT table_schema FROM information_schema.tables WHERE table_name = 'audit_chain_heads'`,
    );
    expect(rows).toEqual([{ table_schema: SCHEMA }]);
    // The app's own public.audit_events is untouched.
    const own = await sql.query(`SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'audit_events' ORDER BY ordinal_position`);
    expect(own.rows.map((r) => r.column_name)).toEqual(['id', 'note']);
    expect(await runMigrations(url, { schema: SCHEMA })).toEqual([]); // idempotent
  });

  it('captures into the schema\'s tables and makes its partitions there', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [appModule(url, { searchPath: true })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.init();
    const audit = app.get(AuditService);
    audit.record({ action: 'login', actor: { id: 'u1', organizationId: 'org-s' }, resourceType: 'session' });
    expect(await audit.flush(10_000)).toBe(true);
    const stored = await sql.query(`SELECT actor_id FROM ${SCHEMA}.audit_events WHERE organization_id = 'org-s'`);
    expect(stored.rows).toEqual([{ actor_id: 'u1' }]);
    const partitions = await sql.query(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'audit_events_p%'`,
      [SCHEMA],
    );
    expect(partitions.rows[0].n).toBeGreaterThan(0);
    await app.close();
    app = undefined;
  });

  it('fails at start-up with the fix in the message when the schema is not on the search_path', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [appModule(url, { searchPath: false })],
    }).compile();
    const broken = moduleRef.createNestApplication({ logger: false });
    await expect(broken.init()).rejects.toThrow(/nest-audit-trail migrate.*auditSearchPath/s);
    await broken.close().catch(() => undefined);
  });
});
