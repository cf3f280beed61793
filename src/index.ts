/**
 * nest-audit-trail: the package's public entry. Everything exported here is the public API; every other
 * file is private and may change.
 */

// Capture: the module, the decorators, the programmatic API and their types.
export {
  AuditModule,
  Audited,
  AuditService,
  AuditWalHealthIndicator,
  AuditWalModule,
  WalCaptureService,
  DEFAULT_PERSONAL_KEYS,
  DEFAULT_IGNORED_FIELDS,
  DEFAULT_REDACT_KEYS,
  ERASED,
  NoAudit,
  PersonalDataService,
  REDACTED,
} from './audit';
export type {
  ActorType,
  AuditAction,
  AuditActor,
  AuditArchiveOptions,
  AuditedOptions,
  AuditEvent,
  AuditIntegrityOptions,
  AuditModuleOptions,
  AuditPartitionOptions,
  AuditPersonalDataOptions,
  AuditPipelineStats,
  AuditQueryOptions,
  AuditReplicaOptions,
  AuditReasonOptions,
  AuditRedisOptions,
  AuditSeverity,
  AuditStateLoader,
  AuditStatus,
  AuditWalOptions,
  AuditWriterStats,
  ErasureResult,
  FieldChange,
  JsonValue,
  QueuedEvent,
  RecordAuditEventInput,
  RecordBulkAuditEventInput,
  RevealableEvent,
  StreamStats,
  UndeliveredPolicy,
  WalEntityOption,
  WalSlotState,
  WalStatus,
  WriteAttempt,
} from './audit';
export { auditOptionsFromConfig, auditOptionsFromEnv } from './config';
// The environment-variable configuration (README, Configuration): for services and workers built on the trail.
export { ConfigError, loadConfig as loadServiceConfig } from './config';
export type { AppConfig as ServiceConfig } from './config';

// Streaming the trail to SIEMs and brokers (webhook, syslog, Splunk HEC, Datadog, S3, NATS JetStream).
export {
  AuditStreamingHealthIndicator,
  AuditStreamingModule,
  DeliveryError,
  OCSF_VERSION,
  streamingOptionsFromEnv,
  StreamingConfigError,
  verifyWebhookSignature,
  webhookSignature,
} from './streaming';
export type {
  AuditSink,
  AuditStreamingOptions,
  DestinationFormat,
  DestinationKind,
  DestinationSpec,
  FormattedEvent,
  OutboundBatch,
  PersonalDataPolicy,
  SinkKind,
  StreamEvent,
  StreamingDestinationConfig,
} from './streaming';

// The admin API, mounted under the app's prefix behind the app's identity.
export { AuditAdminModule } from './admin';
export type { AuditAdminModuleOptions } from './admin';
// Reverts: the hook the app implements per resource type, and the service behind the admin endpoints.
export { AuditRevertModule, AuditRevertService } from './revert';
export type {
  AuditRevertHandler,
  AuditRevertHandlerRegistration,
  AuditRevertOptions,
  AuditRevertRequest,
  RequestRevertPreview,
  RequestRevertResult,
  RevertPlan,
  RevertPreview,
  RevertRequestInput,
  RevertResourceInput,
  RevertResult,
  RevertSkippedField,
  RevertSkippedResource,
  RevertSkipReason,
  RevertTarget,
} from './revert';
export { AuditAccessGuard } from './common/auth/audit-access.guard';
export { AllExceptionsFilter as AuditExceptionFilter } from './common/errors/all-exceptions.filter';
export { strictValidationPipe } from './common/errors/validation.pipe';
export { IsIsoTimestamp, IsSafeText } from './common/validation';
export { JwtVerifier } from './common/auth/jwt-verifier';
export type { JwtVerifierOptions } from './common/auth/jwt-verifier';
export { ROLES as AUDIT_ROLES } from './common/auth/auth.types';
export type { AuthUser as AuditIdentity } from './common/auth/auth.types';

// The scheduled jobs, for the app or a worker process.
export { AuditJobsModule } from './jobs';

// Operations: health indicators for the app's own Terminus controller, Prometheus metrics.
export {
  AuditHealthModule,
  AuditLagHealthIndicator,
  AuditPartitionsHealthIndicator,
  AuditPipelineHealthIndicator,
  AuditReplicasHealthIndicator,
} from './health';
export { MetricsController as AuditMetricsController } from './common/metrics/metrics.controller';
export { MetricsService as AuditMetricsService } from './common/metrics/metrics.service';

// Schema: the migrations (for the app's own DataSource), the runner behind the bin, the optional role.
export { AUDIT_MIGRATIONS } from '../migrations';
export { AUDIT_MIGRATIONS_TABLE, auditSearchPath, runMigrations } from './common/database/migrate';
export type { RunMigrationsOptions } from './common/database/migrate';
export { createAuditRole } from './common/database/audit-role';
export type { AuditRoleOptions } from './common/database/audit-role';
export { SafeQueryLogger } from './common/database/safe-query.logger';

// HTTP hardening: size and nesting limits for the app's JSON body parser.
export {
  DEFAULT_JSON_MAX_DEPTH,
  jsonBodyParserOptions,
  jsonDepthVerifier,
} from './common/http/json-body-limits';
export type { JsonBodyLimits } from './common/http/json-body-limits';
