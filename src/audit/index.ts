/**
 * The audit folder's face: first what the package exports (src/index.ts lists these names again), then
 * what the other folders of the package use.
 */
export { AuditModule } from './audit.module';
export { Audited, NoAudit } from './audited.decorator';
export { AuditService } from './audit.service';
export { AuditWalHealthIndicator, AuditWalModule, WalCaptureService } from './wal';
export type { AuditWalOptions, WalEntityOption, WalSlotState, WalStatus } from './wal';
export { PersonalDataService } from './personal-data/personal-data.service';
export type { RevealableEvent } from './personal-data/personal-data.service';
export type { AuditReasonOptions } from './reason';
export type { ErasureResult } from './personal-data/subject-key.repository';
export { ERASED } from './personal-data/personal-data.cipher';
export { DEFAULT_PERSONAL_KEYS } from './personal-data/personal-data.protector';
export type { AuditWriterStats, QueuedEvent, WriteAttempt } from './audit-writer.service';
export type { AuditPipelineStats } from './audit-delivery.service';
export type { StreamStats } from './delivery/redis-stream.delivery';
export { DEFAULT_REDACT_KEYS } from './redaction';
export { DEFAULT_IGNORED_FIELDS } from './diff';
export { REDACTED } from '../common/serialization/safe-serialize';
export type {
  ActorType,
  AuditAction,
  AuditActor,
  AuditedOptions,
  AuditEvent,
  AuditModuleOptions,
  AuditPersonalDataOptions,
  AuditPartitionOptions,
  AuditArchiveOptions,
  AuditIntegrityOptions,
  AuditQueryOptions,
  AuditReplicaOptions,
  AuditRedisOptions,
  AuditSeverity,
  AuditStateLoader,
  AuditStatus,
  FieldChange,
  JsonValue,
  RecordAuditEventInput,
  RecordBulkAuditEventInput,
  UndeliveredPolicy,
} from './audit.types';

// For the other folders of the package.
export { deepEqual, diffStates } from './diff';
export { escapeCopyText } from './copy-format';
export { appendSeals } from './integrity/chain-sealer';
export { CANONICAL_COLUMNS_SQL, eventHash } from './integrity/event-hash';
export { jsonbText } from './integrity/jsonb-text';
export { GENESIS_HASH, SealLeaf, merkleRoot, orgKeyOf, sealHash } from './integrity/seal';
export type { SealBody } from './integrity/seal';
export { parseKek } from './personal-data/personal-data.cipher';
export { IP_METADATA_KEY } from './personal-data/personal-data.protector';
export { REASON_KEY, TRANSACTION_ID_KEY } from './reason';
export { resolveTrailConfig } from './trail-config';
export { WAL_LEVEL_HELP, WalSetupRepository } from './wal/wal-setup.repository';
export { AUDIT_OPTIONS } from './audit.constants';
export type { ResolvedAuditOptions } from './audit-options';
