import { AuditEvent } from '../../src/audit/audit.types';
import { AUDIT_EVENT_COLUMNS, escapeCopyText } from '../../src/audit/copy-format';

/** The columns before tamper evidence: everything but `event_hash`. */
export const UNHASHED_COLUMNS = AUDIT_EVENT_COLUMNS.filter((c) => c !== 'event_hash');

const NULL = '\\N';
const clean = (v: string | null) => (v !== null && v.includes('\u0000') ? v.replaceAll('\u0000', '') : v);
const text = (v: string | null) => (v === null ? NULL : escapeCopyText(clean(v)!));
const json = (v: unknown) => {
  if (v === null || v === undefined) return NULL;
  const t = JSON.stringify(v);
  return t.includes('\\') ? t.replaceAll('\\', '\\\\') : t;
};
const int = (v: number | null) => (v === null ? NULL : String(Math.trunc(v)));

/**
 * The baseline: the COPY line encoder as it was before event hashes (native JSON.stringify for the
 * states, no canonical form, no SHA-256), so the benchmark compares the same write path with and without
 * the integrity work.
 */
export function encodeUnhashed(e: AuditEvent): string {
  // prettier-ignore
  return e.id + '\t' + e.occurredAt.toISOString() + '\t' + text(e.organizationId) + '\t' + text(e.actorId) + '\t' +
    e.actorType + '\t' + text(e.action) + '\t' + text(e.eventType) + '\t' + text(e.resourceType) + '\t' +
    text(e.resourceId) + '\t' + json(e.before) + '\t' + json(e.after) + '\t' + json(e.changes) + '\t' + e.status + '\t' +
    int(e.statusCode) + '\t' + text(e.errorMessage) + '\t' + e.severity + '\t' + text(e.requestId) + '\t' + text(e.ip) + '\t' +
    text(e.userAgent) + '\t' + text(e.route) + '\t' + text(e.method) + '\t' + int(e.durationMs) + '\t' + json(e.metadata) + '\n';
}

/**
 * `encodeUnhashed` with its line flattened, as the hashed encoder's line is (hashing flattens it): compared
 * with it, the bench separates what hashing and sealing cost from what a flat line saves in garbage
 * collection (a batch's lines stay alive until their COPY; a rope is ~50 objects per line).
 */
export function encodeUnhashedFlat(e: AuditEvent): string {
  const line = encodeUnhashed(e);
  // V8 converts a rope to one flat string (in place) before parsing it as a number; the sink keeps the
  // conversion from being optimized away.
  if (Number(line) === 0) _flattened++;
  return line;
}
let _flattened = 0;
