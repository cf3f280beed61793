/** The public surface of the audit module: what an application imports. */
export { AuditModule } from 'src/audit/audit.module';
export { Audited, NoAudit } from 'src/audit/audited.decorator';
export { AuditService } from 'src/audit/audit.service';
export { PersonalDataService } from 'src/audit/personal-data/personal-data.service';
export type { RevealableEvent } from 'src/audit/personal-data/personal-data.service';
export type { ErasureResult } from 'src/audit/personal-data/subject-key.repository';
export { ERASED } from 'src/audit/personal-data/personal-data.cipher';
export { DEFAULT_PERSONAL_KEYS } from 'src/audit/personal-data/personal-data.protector';
export type { AuditWriterStats, QueuedEvent, WriteAttempt } from 'src/audit/audit-writer.service';
export type { AuditPipelineStats } from 'src/audit/audit-delivery.service';
export type { StreamStats } from 'src/audit/delivery/redis-stream.delivery';
export { DEFAULT_REDACT_KEYS } from 'src/audit/redaction';
export { REDACTED } from 'src/common/serialization/safe-serialize';
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
} from 'src/audit/audit.types';
