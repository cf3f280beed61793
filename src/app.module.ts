import { DynamicModule, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from 'src/accounts/accounts.module';
import { AuditModule } from 'src/audit';
import { AppConfigModule } from 'src/common/config/app-config.module';
import { AppConfig } from 'src/common/config/environment';
import { dataSourceOptions } from 'src/common/database/data-source-options';
import { AllExceptionsFilter } from 'src/common/errors/all-exceptions.filter';
import { strictValidationPipe } from 'src/common/errors/validation.pipe';
import { MetricsModule } from 'src/common/metrics/metrics.module';
import { HealthModule } from 'src/health/health.module';
import { IntegrityModule } from 'src/integrity/integrity.module';
import { PartitionsModule } from 'src/partitions/partitions.module';
import { QueryModule } from 'src/query/query.module';

/** Runs last at shutdown: stops what main.ts started outside Nest (the embedded Postgres). */
class ExternalResources implements OnApplicationShutdown {
  constructor(private readonly stop: () => Promise<void>) {}
  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}

@Module({})
export class AppModule {
  /** `databaseUrl` is the configured DATABASE_URL or the embedded Postgres started by main.ts. */
  static forRoot(config: AppConfig, databaseUrl: string, onShutdown?: () => Promise<void>): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl)),
        ScheduleModule.forRoot(),
        MetricsModule,
        AuditModule.forRoot({
          enabled: config.audit.enabled,
          batchSize: config.audit.batchSize,
          flushIntervalMs: config.audit.flushIntervalMs,
          maxBuffer: config.audit.maxBuffer,
          flushConcurrency: config.audit.flushConcurrency,
          drainTimeoutMs: config.audit.drainTimeoutMs,
          maxStateBytes: config.audit.maxStateBytes,
          trustedProxies: config.audit.trustedProxies,
        }),
        PartitionsModule,
        QueryModule,
        HealthModule,
        IntegrityModule,
        AccountsModule,
      ],
      providers: [
        { provide: APP_PIPE, useFactory: strictValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        ...(onShutdown
          ? [{ provide: ExternalResources, useFactory: () => new ExternalResources(onShutdown) }]
          : []),
      ],
    };
  }
}
