import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AuditWalHealthIndicator } from './wal-health.indicator';
import { AUDIT_WAL_OPTIONS, WalCaptureService } from './wal-capture.service';
import { AuditWalOptions, resolveWalOptions } from './wal-options';

/**
 * The `wal` capture mode: `AuditWalModule.forRoot({ entities: [Account] })` next to `AuditModule.forRoot()`,
 * with `@Audited({ consistency: 'wal' })` on the routes whose mutations it records. Needs a Postgres with
 * wal_level=logical and a role that may create the publication and slot (or `setup: false` and an admin who
 * did). Exports AuditWalHealthIndicator and WalCaptureService.
 */
@Module({})
export class AuditWalModule {
  static forRoot(options: AuditWalOptions): DynamicModule {
    // Bad options stop the app here, before Nest starts, with their message.
    const resolved = resolveWalOptions(options);
    return {
      module: AuditWalModule,
      global: true,
      imports: [TerminusModule],
      providers: [
        { provide: AUDIT_WAL_OPTIONS, useValue: resolved },
        WalCaptureService,
        AuditWalHealthIndicator,
      ],
      exports: [WalCaptureService, AuditWalHealthIndicator],
    };
  }
}
