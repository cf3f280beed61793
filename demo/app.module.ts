import { DynamicModule, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  AuditAdminModule,
  AuditExceptionFilter,
  AuditHealthModule,
  AuditJobsModule,
  AuditMetricsController,
  AuditModule,
  AuditStreamingModule,
  AuditWalModule,
  auditOptionsFromConfig,
  ServiceConfig,
  strictValidationPipe,
  streamingOptionsFromEnv,
} from 'nest-audit-trail';
import { AccountsModule } from './accounts/accounts.module';
import { Account } from './accounts/account.entity';
import { ACCOUNTS_CONSISTENCY } from './accounts/accounts.service';
import { AccountsRevertHandler, REVERTIBLE_ACCOUNT_FIELDS } from './accounts/accounts-revert.handler';
import { dataSourceOptions } from './data-source-options';
import { DemoConfigModule } from './demo-config';
import { HealthController } from './health.controller';

/**
 * Stops what main.ts started outside Nest (the embedded Postgres) at shutdown, after closing the app's
 * DataSource itself: modules' shutdown hooks run in no order this one controls, and a server stopped under
 * an open pool makes TypeORM warn about every terminated connection. (The audit writer drained earlier, in
 * beforeApplicationShutdown; its own pools ignore terminated idle connections.)
 */
class ExternalResources implements OnApplicationShutdown {
  constructor(
    private readonly stop: () => Promise<void>,
    private readonly dataSource: DataSource,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy().catch(() => undefined);
    await this.stop();
  }
}

export type AppRole = 'api' | 'worker';

/**
 * The demo service, built on the package's public entry as any adopter's app: capture, jobs, its own
 * health and metrics routes; the API role adds the admin API (at /audit, Bearer JWT) and the demo domain.
 */
@Module({})
export class AppModule {
  /**
   * `databaseUrl` is the configured DATABASE_URL or the embedded Postgres started by main.ts. `worker`: the
   * stream flush worker of `npm run worker` (consumers, jobs, health and metrics; no API, no demo routes).
   */
  static forRoot(
    config: ServiceConfig,
    databaseUrl: string,
    onShutdown?: () => Promise<void>,
    role: AppRole = 'api',
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DemoConfigModule.forRoot(config),
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl, { poolMax: config.databasePoolMax })),
        ScheduleModule.forRoot(),
        AuditModule.forRoot(auditOptionsFromConfig(config)),
        AuditJobsModule,
        AuditHealthModule,
        // Streams the trail to the destinations of AUDIT_STREAMING_DESTINATIONS and the admin API's (AUDIT_STREAMING=off: not here).
        AuditStreamingModule.forRoot(streamingOptionsFromEnv()),
        // DEMO_AUDIT_CONSISTENCY=wal: account changes come from the WAL (one process at a time reads the slot).
        // AUDIT_WAL_CONSUME=off: this process only puts its requests' context into the WAL (a worker reads the slot).
        ...(ACCOUNTS_CONSISTENCY === 'wal'
          ? [
              AuditWalModule.forRoot({
                entities: [Account],
                consume: process.env.AUDIT_WAL_CONSUME !== 'off',
              }),
            ]
          : []),
        ...(role === 'api'
          ? [
              AuditAdminModule.forRoot({
                path: 'audit',
                jwt: { secret: config.jwtSecret, jwksUrl: config.jwksUrl },
                // Reverts run through the accounts' own service (validation and rules apply).
                revert: {
                  imports: [AccountsModule],
                  handlers: {
                    account: { handler: AccountsRevertHandler, fields: REVERTIBLE_ACCOUNT_FIELDS },
                  },
                },
              }),
              AccountsModule,
            ]
          : []),
      ],
      controllers: [HealthController, AuditMetricsController],
      providers: [
        { provide: APP_PIPE, useFactory: strictValidationPipe },
        { provide: APP_FILTER, useClass: AuditExceptionFilter },
        ...(onShutdown
          ? [
              {
                provide: ExternalResources,
                useFactory: (dataSource: DataSource) => new ExternalResources(onShutdown, dataSource),
                inject: [DataSource],
              },
            ]
          : []),
      ],
    };
  }
}
