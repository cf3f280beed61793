import { AuditEvent } from 'src/audit/audit.types';

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
// JSON text never holds a raw tab, newline or carriage return (JSON.stringify escapes them), so only its
// backslashes need doubling for COPY: a plain scan instead of the general escape.
const json = (value: unknown): string => {
  if (value === null || value === undefined) return NULL;
  const text = JSON.stringify(value);
  return text.includes('\\') ? text.replaceAll('\\', '\\\\') : text;
};
const int = (value: number | null): string => (value === null ? NULL : String(Math.trunc(value)));

/** One event as one line of COPY text format (newline-terminated). */
export function encodeEvent(event: AuditEvent): string {
  // prettier-ignore
  return (
    event.id + '\t' +
    event.occurredAt.toISOString() + '\t' +
    text(event.organizationId) + '\t' +
    text(event.actorId) + '\t' +
    event.actorType + '\t' +
    text(event.action) + '\t' +
    text(event.eventType) + '\t' +
    text(event.resourceType) + '\t' +
    text(event.resourceId) + '\t' +
    json(event.before) + '\t' +
    json(event.after) + '\t' +
    json(event.changes) + '\t' +
    event.status + '\t' +
    int(event.statusCode) + '\t' +
    text(event.errorMessage) + '\t' +
    event.severity + '\t' +
    text(event.requestId) + '\t' +
    text(event.ip) + '\t' +
    text(event.userAgent) + '\t' +
    text(event.route) + '\t' +
    text(event.method) + '\t' +
    int(event.durationMs) + '\t' +
    json(event.metadata) + '\n'
  );
}

const jsonParam = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/** The same fields as `encodeEvent`, as query parameters (for a single INSERT). */
export function eventValues(event: AuditEvent): unknown[] {
  return [
    event.id,
    event.occurredAt,
    clean(event.organizationId),
    clean(event.actorId),
    event.actorType,
    clean(event.action),
    clean(event.eventType),
    clean(event.resourceType),
    clean(event.resourceId),
    jsonParam(event.before),
    jsonParam(event.after),
    jsonParam(event.changes),
    event.status,
    event.statusCode,
    clean(event.errorMessage),
    event.severity,
    clean(event.requestId),
    event.ip,
    clean(event.userAgent),
    clean(event.route),
    clean(event.method),
    event.durationMs,
    jsonParam(event.metadata),
  ];
}
