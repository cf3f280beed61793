import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AuditStreamingHealthIndicator } from './streaming-health.indicator';
import { StreamerService } from './streamer.service';
import { StreamingCoreModule } from './streaming-core.module';
import {
  AUDIT_STREAMING_OPTIONS,
  AuditStreamingOptions,
  StreamingConfigError,
  streamingOptionsProblems,
} from './streaming-options';

/**
 * Streams the committed trail to SIEMs and brokers: `AuditStreamingModule.forRoot({ destinations })` in the
 * processes that deliver (a worker, or the API); destinations can also be managed with the admin API
 * (`<path>/destinations`). Needs `AuditModule.forRoot()`. Exports AuditStreamingHealthIndicator.
 */
@Module({})
export class AuditStreamingModule {
  static forRoot(options: AuditStreamingOptions = {}): DynamicModule {
    // A bad destination stops the app here, before Nest starts, with its message (no stack).
    const problems = streamingOptionsProblems(options);
    if (problems.length) throw new StreamingConfigError(problems);
    return {
      module: AuditStreamingModule,
      global: true,
      imports: [StreamingCoreModule, TerminusModule],
      providers: [
        { provide: AUDIT_STREAMING_OPTIONS, useValue: options },
        StreamerService,
        AuditStreamingHealthIndicator,
      ],
      exports: [AUDIT_STREAMING_OPTIONS, AuditStreamingHealthIndicator, StreamingCoreModule],
    };
  }
}
