import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { poolFromDataSource } from '../common/database/pg-pool';
import { AUDIT_OPTIONS, AUDIT_PG_POOL } from './audit.constants';
import { AUDIT_MODULE_OPTIONS, ConfigurableAuditModule } from './audit.module-definition';
import { resolveAuditOptions, ResolvedAuditOptions } from './audit-options';
import { AuditTargetResolver } from './audit-target.resolver';
import { AuditDelivery } from './audit-delivery.service';
import { AuditWriter } from './audit-writer.service';
import { AuditInterceptor } from './audit.interceptor';
import { AuditService } from './audit.service';
import { RequestIdMiddleware } from './request-id.middleware';
import { AuditModuleOptions } from './audit.types';
import { AuditEntitySubscriber } from './transactional/audit-entity.subscriber';
import { HandlerStateWatch } from './handler-state/handler-state.watch';
import { PersonalDataService } from './personal-data/personal-data.service';

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
