import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { AUDIT_OPTIONS, AUDIT_PG_POOL } from 'src/audit/audit.constants';
import { AUDIT_MODULE_OPTIONS, ConfigurableAuditModule } from 'src/audit/audit.module-definition';
import { resolveAuditOptions, ResolvedAuditOptions } from 'src/audit/audit-options';
import { AuditTargetResolver } from 'src/audit/audit-target.resolver';
import { AuditWriter } from 'src/audit/audit-writer.service';
import { AuditInterceptor } from 'src/audit/audit.interceptor';
import { AuditService } from 'src/audit/audit.service';
import { RequestIdMiddleware } from 'src/audit/request-id.middleware';
import { AuditModuleOptions } from 'src/audit/audit.types';
import { AuditEntitySubscriber } from 'src/audit/transactional/audit-entity.subscriber';

/** The writer's pool uses the app's TypeORM connection settings, with its own small set of connections. */
function writerPool(dataSource: DataSource, options: ResolvedAuditOptions): Pool {
  const o = dataSource.options as {
    url?: string;
    host?: string;
    port?: number;
    username?: string;
    password?: string;
    database?: string;
    ssl?: unknown;
  };
  const pool = new Pool({
    connectionString: o.url,
    host: o.host,
    port: o.port,
    user: o.username,
    password: o.password,
    database: o.database,
    ssl: o.ssl as never,
    max: options.flushConcurrency + 1,
    application_name: 'nest-audit-trail:writer',
  });
  // An idle client that dies (Postgres restart) must not crash the process; the next flush reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * `AuditModule.forRoot({...})` / `forRootAsync({ useFactory, inject })`: registers the global
 * interceptor, the writer and `AuditService`. Requires a TypeORM `DataSource` in the app.
 */
@Module({
  providers: [
    {
      provide: AUDIT_OPTIONS,
      useFactory: (options: AuditModuleOptions) => resolveAuditOptions(options),
      inject: [AUDIT_MODULE_OPTIONS],
    },
    { provide: AUDIT_PG_POOL, useFactory: writerPool, inject: [DataSource, AUDIT_OPTIONS] },
    AuditWriter,
    AuditTargetResolver,
    AuditService,
    AuditEntitySubscriber,
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
  exports: [AuditService],
})
export class AuditModule extends ConfigurableAuditModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware).forRoutes('*');
  }
}
