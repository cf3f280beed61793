import { createHash } from 'node:crypto';

/**
 * The canonical form of a stored event (version 1), the bytes its `event_hash` is the SHA-256 of:
 *
 *   [id, occurredAtMicros, organizationId, actorId, actorType, action, eventType, resourceType, resourceId,
 *    before, after, changes, status, statusCode, errorMessage, severity, requestId, ip, userAgent, route,
 *    method, durationMs, metadata]
 *
 * a JSON array without spaces between elements, where text columns are JSON strings (or `null`), numbers
 * are decimal integers (occurred_at as microseconds since the epoch), `ip` is the `inet` text and jsonb
 * columns are their `jsonb::text` (see jsonb-text.ts). Every form is exactly what Postgres prints for the
 * stored value, so the verifier builds the same bytes from a row (in SQL: CANONICAL_EVENT_SQL), or from a
 * `row_to_json` line of an archive, without trusting anything but the hash.
 *
 * Not covered: `recorded_at` (set by the database at insert) and `batch_id` (chain bookkeeping, covered by
 * the batch seal's Merkle root instead).
 */
export interface CanonicalFields {
  id: string;
  occurredAtMicros: string;
  organizationId: string | null;
  actorId: string | null;
  actorType: string;
  action: string;
  eventType: string;
  resourceType: string | null;
  resourceId: string | null;
  /** jsonb text or null */
  before: string | null;
  after: string | null;
  changes: string | null;
  status: string;
  statusCode: number | null;
  errorMessage: string | null;
  severity: string;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  route: string | null;
  method: string | null;
  durationMs: number | null;
  metadata: string | null;
}

const str = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
const raw = (v: string | number | null) => (v === null ? 'null' : String(v));

export function canonicalEvent(f: CanonicalFields): string {
  // prettier-ignore
  return '[' +
    str(f.id) + ',' + f.occurredAtMicros + ',' + str(f.organizationId) + ',' + str(f.actorId) + ',' +
    str(f.actorType) + ',' + str(f.action) + ',' + str(f.eventType) + ',' + str(f.resourceType) + ',' +
    str(f.resourceId) + ',' + raw(f.before) + ',' + raw(f.after) + ',' + raw(f.changes) + ',' +
    str(f.status) + ',' + raw(f.statusCode) + ',' + str(f.errorMessage) + ',' + str(f.severity) + ',' +
    str(f.requestId) + ',' + str(f.ip) + ',' + str(f.userAgent) + ',' + str(f.route) + ',' +
    str(f.method) + ',' + raw(f.durationMs) + ',' + raw(f.metadata) + ']';
}

export const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * The same canonical form built by Postgres from a stored row of `audit_events` (alias `e`): the
 * verifier hashes these bytes. Only built-in functions whose output is the column's own text form.
 */
export const CANONICAL_EVENT_SQL = `'[' || to_json(e.id::text)::text
  || ',' || (extract(epoch FROM e.occurred_at) * 1000000)::bigint::text
  || ',' || coalesce(to_json(e.organization_id)::text, 'null') || ',' || coalesce(to_json(e.actor_id)::text, 'null')
  || ',' || to_json(e.actor_type)::text || ',' || to_json(e.action)::text || ',' || to_json(e.event_type)::text
  || ',' || coalesce(to_json(e.resource_type)::text, 'null') || ',' || coalesce(to_json(e.resource_id)::text, 'null')
  || ',' || coalesce(e.before::text, 'null') || ',' || coalesce(e.after::text, 'null') || ',' || coalesce(e.changes::text, 'null')
  || ',' || to_json(e.status)::text || ',' || coalesce(e.status_code::text, 'null')
  || ',' || coalesce(to_json(e.error_message)::text, 'null') || ',' || to_json(e.severity)::text
  || ',' || coalesce(to_json(e.request_id)::text, 'null') || ',' || coalesce(to_json(abbrev(e.ip))::text, 'null')
  || ',' || coalesce(to_json(e.user_agent)::text, 'null') || ',' || coalesce(to_json(e.route)::text, 'null')
  || ',' || coalesce(to_json(e.method)::text, 'null') || ',' || coalesce(e.duration_ms::text, 'null')
  || ',' || coalesce(e.metadata::text, 'null') || ']'`;
