import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ArchiveModule } from '../archive';
import { ClockModule } from '../common/clock/clock';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AppConfig, trailConfigFrom } from '../config';
import { auditSearchPath } from '../common/database/migrate';
import { MetricsModule } from '../common/metrics/metrics.module';
import { IntegrityCoreModule } from '../integrity';

/**
 * What the CLI needs: the trail's configuration, the database, partitions and archives (and the integrity
 * core that seals archive manifests). No HTTP, no capture, no scheduler (so none of the service's jobs
 * start): commands run once, on demand.
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig, databaseUrl: string, schema?: string): DynamicModule {
    return {
      module: CliModule,
      global: true, // AUDIT_CONFIG for the imported feature modules
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: databaseUrl,
          logging: false,
          extra: {
            max: 4,
            application_name: 'nest-audit-trail:cli',
            options: schema ? auditSearchPath(schema) : undefined,
          },
        }),
        ClockModule,
        MetricsModule, // the jobs' metrics providers; nothing scrapes them here
        IntegrityCoreModule,
        ArchiveModule,
      ],
      providers: [{ provide: AUDIT_CONFIG, useValue: trailConfigFrom(config) }],
      exports: [AUDIT_CONFIG],
    };
  }
}
