import { AuditEvent } from './audit.types';
import { storableOrNull } from '../common/serialization/storable-text';
import { canonicalHashHex, eventHash } from './integrity/event-hash';
import { inetText } from './integrity/inet-text';
import { jsonbText } from './integrity/jsonb-text';

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
const SPECIAL = /[\\\t\n\r\b\f\v]/;
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
};

/**
 * Escapes a value for COPY's text format exactly as Postgres' COPY TO writes it (backslash, tab, newline,
 * carriage return, backspace, form feed, vertical tab), so the line the writer sends is byte for byte the
 * line Postgres prints for the stored row: the event hash covers that line (integrity/event-hash.ts).
 */
export function escapeCopyText(value: string): string {
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\t\n\r\b\f\v]/g, (ch) => ESCAPES[ch]);
}

// The event factory already made every string storable; this is the last guard for events built elsewhere
// (the same replacement, so the hashed line is the stored line).
const clean = <T extends string | null>(value: T): T => storableOrNull(value);
const text = (value: string | null): string => (value === null ? NULL : escapeCopyText(clean(value)));
// JSON text never holds a raw control character (it escapes them), so only its backslashes need doubling
// for COPY: a plain scan instead of the general escape.
const json = (value: unknown): string => {
  if (value === null || value === undefined) return NULL;
  const t = jsonbText(value);
  return t.includes('\\') ? t.replaceAll('\\', '\\\\') : t;
};
const int = (value: number | null): string => (value === null ? NULL : String(Math.trunc(value)));

/**
 * The fields after occurred_at, as COPY text: `\t` + organization_id ... `\t` + metadata. Together with the
 * id and the event time in microseconds this is the event's canonical form (see event-hash.ts).
 */
function encodeRest(event: AuditEvent): string {
  // prettier-ignore
  return (
    '\t' + text(event.organizationId) +
    '\t' + text(event.actorId) +
    '\t' + event.actorType +
    '\t' + text(event.action) +
    '\t' + text(event.eventType) +
    '\t' + text(event.resourceType) +
    '\t' + text(event.resourceId) +
    '\t' + json(event.before) +
    '\t' + json(event.after) +
    '\t' + json(event.changes) +
    '\t' + event.status +
    '\t' + int(event.statusCode) +
    '\t' + text(event.errorMessage) +
    '\t' + event.severity +
    '\t' + text(event.requestId) +
    '\t' + text(inetText(event.ip)) +
    '\t' + text(event.userAgent) +
    '\t' + text(event.route) +
    '\t' + text(event.method) +
    '\t' + int(event.durationMs) +
    '\t' + json(event.metadata)
  );
}

/** One event as one line of COPY text format (newline-terminated), its hash in the last column. */
export function encodeEvent(event: AuditEvent): string {
  const rest = encodeRest(event);
  const canonical = event.id + '\t' + event.occurredAt.getTime() * 1000 + rest;
  const hash = canonicalHashHex(canonical); // flattens `canonical` into one string
  // One flat string per line (join copies into a new string; `+` would make a rope of ~100 pieces): a
  // batch's lines stay alive across garbage collections until their COPY, and each piece is an object the
  // collector copies. Most of what the encoder cost in GC time.
  const fields = canonical.slice(canonical.length - rest.length);
  return [event.id, '\t', event.occurredAt.toISOString(), fields, '\t\\\\x', hash, '\n'].join('');
}

const jsonParam = (value: unknown) => (value === null || value === undefined ? null : jsonbText(value));

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
    event.statusCode === null ? null : Math.trunc(event.statusCode),
    clean(event.errorMessage),
    event.severity,
    clean(event.requestId),
    inetText(event.ip),
    clean(event.userAgent),
    clean(event.route),
    clean(event.method),
    event.durationMs === null ? null : Math.trunc(event.durationMs),
    jsonParam(event.metadata),
    eventHash(event.id, event.occurredAt.getTime() * 1000, encodeRest(event)),
  ];
}
