/** The public surface of the audit module: what an application imports. */
export { AuditModule } from 'src/audit/audit.module';
export { Audited, NoAudit } from 'src/audit/audited.decorator';
export { AuditService } from 'src/audit/audit.service';
export type { AuditWriterStats, QueuedEvent, WriteAttempt } from 'src/audit/audit-writer.service';
export { DEFAULT_REDACT_KEYS } from 'src/audit/redaction';
export { REDACTED } from 'src/common/serialization/safe-serialize';
export type {
  ActorType,
  AuditAction,
  AuditActor,
  AuditedOptions,
  AuditEvent,
  AuditModuleOptions,
  AuditSeverity,
  AuditStateLoader,
  AuditStatus,
  FieldChange,
  JsonValue,
  RecordAuditEventInput,
} from 'src/audit/audit.types';
