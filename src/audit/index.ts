/** The public surface of the audit module: what an application imports. */
export { AuditModule } from './audit.module';
export { Audited, NoAudit } from './audited.decorator';
export { AuditService } from './audit.service';
export { PersonalDataService } from './personal-data/personal-data.service';
export type { RevealableEvent } from './personal-data/personal-data.service';
export type { ErasureResult } from './personal-data/subject-key.repository';
export { ERASED } from './personal-data/personal-data.cipher';
export { DEFAULT_PERSONAL_KEYS } from './personal-data/personal-data.protector';
export type { AuditWriterStats, QueuedEvent, WriteAttempt } from './audit-writer.service';
export type { AuditPipelineStats } from './audit-delivery.service';
export type { StreamStats } from './delivery/redis-stream.delivery';
export { DEFAULT_REDACT_KEYS } from './redaction';
export { REDACTED } from '../common/serialization/safe-serialize';
export type {
  ActorType,
  AuditAction,
  AuditActor,
  AuditedOptions,
  AuditEvent,
  AuditModuleOptions,
  AuditPersonalDataOptions,
  AuditRedisOptions,
  AuditSeverity,
  AuditStateLoader,
  AuditStatus,
  FieldChange,
  JsonValue,
  RecordAuditEventInput,
  UndeliveredPolicy,
} from './audit.types';
