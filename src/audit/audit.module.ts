import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { poolFromDataSource } from 'src/common/database/pg-pool';
import { AUDIT_OPTIONS, AUDIT_PG_POOL } from 'src/audit/audit.constants';
import { AUDIT_MODULE_OPTIONS, ConfigurableAuditModule } from 'src/audit/audit.module-definition';
import { resolveAuditOptions, ResolvedAuditOptions } from 'src/audit/audit-options';
import { AuditTargetResolver } from 'src/audit/audit-target.resolver';
import { AuditDelivery } from 'src/audit/audit-delivery.service';
import { AuditWriter } from 'src/audit/audit-writer.service';
import { AuditInterceptor } from 'src/audit/audit.interceptor';
import { AuditService } from 'src/audit/audit.service';
import { RequestIdMiddleware } from 'src/audit/request-id.middleware';
import { AuditModuleOptions } from 'src/audit/audit.types';
import { AuditEntitySubscriber } from 'src/audit/transactional/audit-entity.subscriber';
import { HandlerStateWatch } from 'src/audit/handler-state/handler-state.watch';
import { PersonalDataService } from 'src/audit/personal-data/personal-data.service';

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
    {
      provide: AUDIT_PG_POOL,
      useFactory: (dataSource: DataSource, options: ResolvedAuditOptions) =>
        poolFromDataSource(
          dataSource,
          options.flushConcurrency + (options.redis?.consumers ?? 0) + 2,
          'nest-audit-trail:writer',
        ),
      inject: [DataSource, AUDIT_OPTIONS],
    },
    PersonalDataService,
    AuditWriter,
    AuditDelivery,
    AuditTargetResolver,
    AuditService,
    AuditEntitySubscriber,
    HandlerStateWatch,
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
  exports: [AuditService, PersonalDataService],
})
export class AuditModule extends ConfigurableAuditModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware).forRoutes('*');
  }
}
