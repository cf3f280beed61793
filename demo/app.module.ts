import { DynamicModule, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from './accounts/accounts.module';
import { ArchiveModule } from '../src/archive/archive.module';
import { AuditModule } from '../src/audit';
import { ClockModule } from '../src/common/clock/clock';
import { AppConfigModule } from '../src/common/config/app-config.module';
import { AppConfig } from '../src/common/config/environment';
import { dataSourceOptions } from './data-source-options';
import { AllExceptionsFilter } from '../src/common/errors/all-exceptions.filter';
import { strictValidationPipe } from '../src/common/errors/validation.pipe';
import { MetricsModule } from '../src/common/metrics/metrics.module';
import { HealthModule } from '../src/health/health.module';
import { IntegrityModule } from '../src/integrity/integrity.module';
import { PartitionsModule } from '../src/partitions/partitions.module';
import { SubjectsModule } from '../src/subjects/subjects.module';
import { QueryModule } from '../src/query/query.module';

/** Runs last at shutdown: stops what main.ts started outside Nest (the embedded Postgres). */
class ExternalResources implements OnApplicationShutdown {
  constructor(private readonly stop: () => Promise<void>) {}
  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}

export type AppRole = 'api' | 'worker';

@Module({})
export class AppModule {
  /**
   * `databaseUrl` is the configured DATABASE_URL or the embedded Postgres started by main.ts. `worker`: the
   * stream flush worker of `npm run worker` (consumers, jobs, health and metrics; no API, no demo routes).
   */
  static forRoot(
    config: AppConfig,
    databaseUrl: string,
    onShutdown?: () => Promise<void>,
    role: AppRole = 'api',
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl, { poolMax: config.databasePoolMax })),
        ScheduleModule.forRoot(),
        ClockModule,
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
          delivery: config.audit.delivery,
          redis:
            config.audit.delivery === 'redis' && config.redisUrl
              ? {
                  url: config.redisUrl,
                  streamKey: config.audit.stream.key,
                  consumers: config.audit.stream.consumers,
                  maxStreamLength: config.audit.stream.maxLength,
                  claimIdleMs: config.audit.stream.claimIdleMs,
                }
              : undefined,
          spool: config.audit.spool ?? false,
          overflow: config.audit.overflow,
          overflowBlockMs: config.audit.overflowBlockMs,
          criticalActions: config.audit.criticalActions,
          criticalEventTypes: config.audit.criticalEventTypes,
          criticalSeverities: config.audit.criticalSeverities,
          futureHorizonMs: config.audit.partitionHorizonDays * 24 * 60 * 60 * 1000,
          personalData: config.personalData
            ? { encryptionKey: config.personalData.encryptionKey, keys: config.personalData.keys }
            : undefined,
        }),
        PartitionsModule,
        HealthModule,
        // Admin API, archive and integrity endpoints and jobs, demo domain: API processes only.
        ...(role === 'api'
          ? [ArchiveModule, IntegrityModule, QueryModule, SubjectsModule, AccountsModule]
          : []),
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
