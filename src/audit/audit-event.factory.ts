import { isIP } from 'node:net';
import { diffStates } from './diff';
import { eventId } from './event-id';
import { RedactionRules, sanitizeState } from './redaction';
import { storableOrNull } from '../common/serialization/storable-text';
import {
  AuditAction,
  AuditActor,
  AuditEvent,
  AuditSeverity,
  AuditStatus,
  FieldChange,
  JsonValue,
} from './audit.types';

export interface EventDraft {
  action: AuditAction;
  eventType?: string;
  actor: AuditActor;
  resourceType: string | null;
  resourceId: string | null;
  before?: unknown;
  after?: unknown;
  /** Compute a diff between before and after (updates). */
  diff?: boolean;
  /** The after state is a handler's result: fields it omits are not treated as removed. */
  partialAfter?: boolean;
  /** Keep an update whose diff is empty. */
  recordNoOps?: boolean;
  status: AuditStatus;
  statusCode?: number | null;
  errorMessage?: string | null;
  severity: AuditSeverity;
  requestId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  route?: string | null;
  method?: string | null;
  durationMs?: number | null;
  metadata?: Record<string, unknown> | null;
  occurredAt?: Date;
  rules: RedactionRules;
  /** Fields whose changes never count (DiffOptions.ignore). */
  ignoredFields?: readonly string[];
}

const MAX_TEXT = 2048;
/**
 * A text field capped and made storable (NUL and lone surrogates, which Postgres refuses, become U+FFFD;
 * after the cut, which can split a surrogate pair). States and metadata get the same from safeSerialize:
 * every event passes here before it is queued, whatever the path (HTTP, record(), transactional).
 */
const clip = (value: string | null | undefined, max = MAX_TEXT): string | null =>
  value === null || value === undefined
    ? null
    : storableOrNull(value.length > max ? `${value.slice(0, max)}…` : value);

/** An address Postgres' inet accepts: a zone index (`fe80::1%eth0`) is dropped, anything else invalid is null. */
function inetOrNull(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const address = ip.split('%')[0];
  return isIP(address) ? address : null;
}

/**
 * Turns a draft into a storable event: redacts and caps the states, diffs them, and normalizes the context.
 * Returns null for an update that changed nothing (unless no-ops are recorded).
 */
export function buildAuditEvent(draft: EventDraft, maxStateBytes: number): AuditEvent | null {
  const before = sanitizeState(draft.before, draft.rules, maxStateBytes);
  const after = sanitizeState(draft.after, draft.rules, maxStateBytes);
  let changes: FieldChange[] | null = null;
  if (draft.diff && draft.status === 'success') {
    changes = diffStates(before.value as JsonValue, after.value as JsonValue, {
      beforeRedacted: before.redacted,
      afterRedacted: after.redacted,
      partialAfter: draft.partialAfter,
      ignore: draft.ignoredFields,
    });
    if (changes.length === 0 && !draft.recordNoOps) return null;
  }
  const metadata = draft.metadata ? sanitizeState(draft.metadata, draft.rules, maxStateBytes).value : null;
  const occurredAt = draft.occurredAt ?? new Date();
  return {
    // The id carries the event time (UUIDv7 milliseconds): a lookup by id alone can prune to one partition.
    id: eventId(occurredAt),
    occurredAt,
    organizationId: clip(draft.actor.organizationId, 256),
    actorId: clip(draft.actor.id, 256),
    actorType: draft.actor.type,
    action: storableOrNull(draft.action),
    eventType: clip(
      draft.eventType ?? (draft.resourceType ? `${draft.resourceType}.${draft.action}` : draft.action),
      256,
    )!,
    resourceType: clip(draft.resourceType, 256),
    resourceId: clip(draft.resourceId, 256),
    before: before.value as JsonValue,
    after: after.value as JsonValue,
    changes,
    status: draft.status,
    statusCode: draft.statusCode ?? null,
    errorMessage: clip(draft.errorMessage),
    severity: draft.severity,
    requestId: clip(draft.requestId, 128),
    ip: inetOrNull(draft.ip),
    userAgent: clip(draft.userAgent, 512),
    route: clip(draft.route, 512),
    method: storableOrNull(draft.method ?? null),
    durationMs:
      draft.durationMs === null || draft.durationMs === undefined ? null : Math.round(draft.durationMs),
    metadata: metadata as { [key: string]: JsonValue } | null,
  };
}
