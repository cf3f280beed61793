export { AuditStreamingModule } from './streaming.module';
export { AuditStreamingHealthIndicator } from './streaming-health.indicator';
export { DestinationsController } from './destinations.controller';
export { StreamingCoreModule } from './streaming-core.module';
export { streamingOptionsFromEnv, StreamingConfigError } from './streaming-options';
export type { AuditStreamingOptions, StreamingDestinationConfig } from './streaming-options';
export { verifyWebhookSignature, webhookSignature } from './sinks/webhook.sink';
export { OCSF_VERSION } from './formats/ocsf';
export type {
  AuditSink,
  DestinationFormat,
  DestinationKind,
  DestinationSpec,
  FormattedEvent,
  OutboundBatch,
  PersonalDataPolicy,
  SinkKind,
  StreamEvent,
} from './streaming.types';
export { DeliveryError } from './streaming.types';
export { destinationsStatus, requestReplay, StreamingCliError } from './streaming-cli';
