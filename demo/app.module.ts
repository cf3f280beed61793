import { DynamicModule, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AuditAdminModule,
  AuditExceptionFilter,
  AuditHealthModule,
  AuditJobsModule,
  AuditMetricsController,
  AuditModule,
  auditOptionsFromConfig,
  ServiceConfig,
  strictValidationPipe,
} from 'nest-audit-trail';
import { AccountsModule } from './accounts/accounts.module';
import { dataSourceOptions } from './data-source-options';
import { DemoConfigModule } from './demo-config';
import { HealthController } from './health.controller';

/** Runs last at shutdown: stops what main.ts started outside Nest (the embedded Postgres). */
class ExternalResources implements OnApplicationShutdown {
  constructor(private readonly stop: () => Promise<void>) {}
  async onApplicationShutdown(): Promise<void> {
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
        ...(role === 'api'
          ? [
              AuditAdminModule.forRoot({
                path: 'audit',
                jwt: { secret: config.jwtSecret, jwksUrl: config.jwksUrl },
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
          ? [{ provide: ExternalResources, useFactory: () => new ExternalResources(onShutdown) }]
          : []),
      ],
    };
  }
}
