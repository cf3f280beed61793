import { AuditEvent } from 'src/audit/audit.types';
import { canonicalEvent, sha256 } from 'src/audit/integrity/event-hash';
import { inetText } from 'src/audit/integrity/inet-text';
import { jsonbText } from 'src/audit/integrity/jsonb-text';

/** Column order of the COPY stream; `encodeEvent` writes the fields in exactly this order. */
export const AUDIT_EVENT_COLUMNS = [
  'id',
  'occurred_at',
  'organization_id',
  'actor_id',
  'actor_type',
  'action',
  'event_type',
  'resource_type',
  'resource_id',
  'before',
  'after',
  'changes',
  'status',
  'status_code',
  'error_message',
  'severity',
  'request_id',
  'ip',
  'user_agent',
  'route',
  'method',
  'duration_ms',
  'metadata',
  'event_hash',
] as const;

const NULL = '\\N';
const SPECIAL = /[\\\t\n\r]/;

/** Escapes a value for COPY's text format: backslash, tab, newline and carriage return. */
export function escapeCopyText(value: string): string {
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r',
  );
}

// Postgres text cannot hold NUL; states are already NUL-free, free-text fields are cleaned here.
const clean = <T extends string | null>(value: T): T =>
  (value !== null && value.includes('\u0000') ? value.replaceAll('\u0000', '') : value) as T;
const text = (value: string | null): string => (value === null ? NULL : escapeCopyText(clean(value)));
// JSON text never holds a raw tab, newline or carriage return (it escapes them), so only its backslashes
// need doubling for COPY: a plain scan instead of the general escape.
const json = (value: string | null): string => {
  if (value === null) return NULL;
  return value.includes('\\') ? value.replaceAll('\\', '\\\\') : value;
};
const jsonb = (value: unknown): string | null =>
  value === null || value === undefined ? null : jsonbText(value);
const int = (value: number | null): string => (value === null ? NULL : String(Math.trunc(value)));
const intOrNull = (value: number | null): number | null => (value === null ? null : Math.trunc(value));

/**
 * What is stored for an event, in stored form: NUL-free text, jsonb columns as `jsonb::text`, the `inet`
 * text, and the SHA-256 of the canonical form (event-hash.ts) over exactly these values.
 */
export function storedForm(event: AuditEvent) {
  const f = {
    id: event.id,
    occurredAtMicros: String(event.occurredAt.getTime() * 1000),
    organizationId: clean(event.organizationId),
    actorId: clean(event.actorId),
    actorType: event.actorType,
    action: clean(event.action),
    eventType: clean(event.eventType),
    resourceType: clean(event.resourceType),
    resourceId: clean(event.resourceId),
    before: jsonb(event.before),
    after: jsonb(event.after),
    changes: jsonb(event.changes),
    status: event.status,
    statusCode: intOrNull(event.statusCode),
    errorMessage: clean(event.errorMessage),
    severity: event.severity,
    requestId: clean(event.requestId),
    ip: inetText(event.ip),
    userAgent: clean(event.userAgent),
    route: clean(event.route),
    method: clean(event.method),
    durationMs: intOrNull(event.durationMs),
    metadata: jsonb(event.metadata),
  };
  return { ...f, hash: sha256(canonicalEvent(f)) };
}

/** One event as one line of COPY text format (newline-terminated), its hash in the last column. */
export function encodeEvent(event: AuditEvent): string {
  const f = storedForm(event);
  // prettier-ignore
  return (
    f.id + '\t' +
    event.occurredAt.toISOString() + '\t' +
    text(f.organizationId) + '\t' +
    text(f.actorId) + '\t' +
    f.actorType + '\t' +
    text(f.action) + '\t' +
    text(f.eventType) + '\t' +
    text(f.resourceType) + '\t' +
    text(f.resourceId) + '\t' +
    json(f.before) + '\t' +
    json(f.after) + '\t' +
    json(f.changes) + '\t' +
    f.status + '\t' +
    int(f.statusCode) + '\t' +
    text(f.errorMessage) + '\t' +
    f.severity + '\t' +
    text(f.requestId) + '\t' +
    text(f.ip) + '\t' +
    text(f.userAgent) + '\t' +
    text(f.route) + '\t' +
    text(f.method) + '\t' +
    int(f.durationMs) + '\t' +
    json(f.metadata) + '\t' +
    '\\\\x' + f.hash.toString('hex') + '\n'
  );
}

/** The same fields as `encodeEvent`, as query parameters (for a single INSERT). */
export function eventValues(event: AuditEvent): unknown[] {
  const f = storedForm(event);
  return [
    f.id,
    event.occurredAt,
    f.organizationId,
    f.actorId,
    f.actorType,
    f.action,
    f.eventType,
    f.resourceType,
    f.resourceId,
    f.before,
    f.after,
    f.changes,
    f.status,
    f.statusCode,
    f.errorMessage,
    f.severity,
    f.requestId,
    f.ip,
    f.userAgent,
    f.route,
    f.method,
    f.durationMs,
    f.metadata,
    f.hash,
  ];
}
