import {
  Inject,
  Logger,
  MiddlewareConsumer,
  Module,
  NestModule,
  OnApplicationBootstrap,
  OnModuleInit,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ClockModule } from '../common/clock/clock';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { MetricsModule } from '../common/metrics/metrics.module';
import { poolFromDataSource } from '../common/database/pg-pool';
import { ReadReplicas } from '../common/database/read-replicas';
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
  // The trail's metrics registry and clock, global: the admin, jobs and health modules use them too.
  imports: [MetricsModule, ClockModule],
  providers: [
    {
      provide: AUDIT_OPTIONS,
      useFactory: (options: AuditModuleOptions) => resolveAuditOptions(options),
      inject: [AUDIT_MODULE_OPTIONS],
    },
    {
      provide: AUDIT_CONFIG,
      useFactory: (options: ResolvedAuditOptions) => options.trail,
      inject: [AUDIT_OPTIONS],
    },
    {
      provide: AUDIT_PG_POOL,
      useFactory: (dataSource: DataSource, options: ResolvedAuditOptions) =>
        poolFromDataSource(
          dataSource,
          options.flushConcurrency + consumerConnections(options) + 2,
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
    // The admin reads' replicas (none configured: every read on the app's DataSource).
    ReadReplicas,
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
  exports: [AuditService, PersonalDataService, AUDIT_CONFIG, AUDIT_OPTIONS, ReadReplicas],
})
export class AuditModule
  extends ConfigurableAuditModule
  implements NestModule, OnModuleInit, OnApplicationBootstrap
{
  constructor(
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
    private readonly dataSource: DataSource,
  ) {
    super();
  }

  /** A clear start-up error, rather than a failing COPY every flush, when the audit schema is not there. */
  async onApplicationBootstrap(): Promise<void> {
    const found = await this.dataSource
      .query(
        `SELECT to_regclass('audit_events') IS NOT NULL AND to_regclass('audit_chain_heads') IS NOT NULL AS found`,
      )
      .then(
        ([row]: Array<{ found: boolean }>) => row.found,
        () => null, // Postgres unreachable right now: capture waits for it (buffer, spool), as at any other time
      );
    if (found === false) {
      throw new Error(
        'The audit tables are not in this database (or not on its search_path): run `npx nest-audit-trail migrate` with DATABASE_URL, ' +
          "add AUDIT_MIGRATIONS to your DataSource's migrations, or, with a schema of their own, connect with extra: { options: auditSearchPath('<schema>') }",
      );
    }
  }

  /** Development keys are public: say so loudly, once, whatever app runs the module. */
  onModuleInit(): void {
    const logger = new Logger('AuditModule');
    if (this.options.personalData?.isDevDefault) {
      logger.warn(
        'No personal-data key (personalData.encryptionKey or AUDIT_PERSONAL_DATA_KEY): personal data is encrypted under the built-in DEVELOPMENT key, which protects nothing. Never run like this in production.',
      );
    }
    if (this.options.trail.integrity.signingKeyIsDevDefault) {
      logger.warn(
        'No signing key (integrity.signingKey or AUDIT_SIGNING_KEY): checkpoints are signed with the built-in DEVELOPMENT key, which proves nothing. Never run like this in production.',
      );
    }
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware).forRoutes('*');
  }
}

/** A stream consumer holds a connection only while it writes a batch: many shards share a bounded few. */
function consumerConnections(options: ResolvedAuditOptions): number {
  return Math.min(32, (options.redis?.consumers ?? 0) * (options.redis?.shards ?? 1));
}
