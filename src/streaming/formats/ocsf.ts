import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { StreamEvent } from '../streaming.types';

/**
 * The OCSF schema version our records follow (metadata.version), checked in ocsf.spec.ts against the JSON
 * Schema compiled from the official repository at this tag (test/fixtures/ocsf/).
 */
export const OCSF_VERSION = '1.8.0';

const PRODUCT = 'nest-audit-trail';
/** API Activity (6003) in Application Activity (6). */
const CATEGORY_UID = 6;
const CLASS_UID = 6003;
const ACTIVITIES: Record<string, { id: number; name: string }> = {
  create: { id: 1, name: 'Create' },
  read: { id: 2, name: 'Read' },
  list: { id: 2, name: 'Read' },
  update: { id: 3, name: 'Update' },
  delete: { id: 4, name: 'Delete' },
};
const SEVERITIES: Record<string, { id: number; name: string }> = {
  info: { id: 1, name: 'Informational' },
  notice: { id: 2, name: 'Low' },
  warning: { id: 3, name: 'Medium' },
  critical: { id: 5, name: 'Critical' },
};
/** OCSF user.type_id: 1 User, 3 System, 4 Service, 99 Other. */
const USER_TYPES: Record<string, number> = { user: 1, system: 3, service: 4 };
const HTTP_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/**
 * Our event as an OCSF API Activity record (docs/streaming-formats.md has the mapping). Values are copied,
 * never decrypted: personal tokens (`pii:v1:...`) stay tokens. What OCSF has no attribute for goes under
 * `unmapped`, the only place the class accepts attributes of the source's own.
 */
export function toOcsfRecord({ event, orgKey, sealSeq }: StreamEvent): Record<string, unknown> {
  const activity = ACTIVITIES[event.action] ?? { id: 99, name: event.action };
  const severity = SEVERITIES[event.severity] ?? { id: 99, name: String(event.severity) };
  const failed = event.status === 'failure';
  const method = event.method?.toUpperCase() ?? null;
  const ip = event.ip && isIP(event.ip) ? event.ip : null;
  const unmapped = compact({
    event_type: event.eventType,
    reason: event.reason,
    transaction_id: event.transactionId,
    route: event.route,
    method: method && !HTTP_METHODS.has(method) ? event.method : null,
    ip: event.ip && !ip ? event.ip : null,
    organization_key: orgKey && orgKey !== event.organizationId ? orgKey : null,
    metadata: event.metadata,
  });
  return compact({
    activity_id: activity.id,
    activity_name: activity.name,
    category_uid: CATEGORY_UID,
    category_name: 'Application Activity',
    class_uid: CLASS_UID,
    class_name: 'API Activity',
    type_uid: CLASS_UID * 100 + activity.id,
    type_name: `API Activity: ${activity.name}`,
    severity_id: severity.id,
    severity: severity.name,
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    status_code: event.statusCode === null ? null : String(event.statusCode),
    status_detail: event.errorMessage,
    message: message(event),
    time: Date.parse(event.occurredAt),
    duration: typeof event.durationMs === 'number' ? Math.round(event.durationMs) : null,
    metadata: compact({
      version: OCSF_VERSION,
      product: compact({ name: PRODUCT, vendor_name: PRODUCT, version: productVersion() }),
      uid: event.id,
      correlation_uid: event.requestId,
      tenant_uid: event.organizationId,
      sequence: Number(sealSeq),
      event_code: event.eventType,
      log_name: 'audit_events',
      log_provider: PRODUCT,
      original_time: event.occurredAt,
    }),
    actor: { user: actorUser(event.actorId, event.actorType) },
    api: compact({
      operation: event.action,
      request: event.requestId ? { uid: event.requestId } : null,
      response:
        event.statusCode !== null || event.errorMessage
          ? compact({ code: event.statusCode, message: event.errorMessage })
          : null,
    }),
    http_request:
      method || event.route || event.userAgent
        ? compact({
            http_method: method && HTTP_METHODS.has(method) ? method : null,
            url: event.route ? { path: event.route } : null,
            user_agent: event.userAgent,
          })
        : null,
    // The class requires a source endpoint with at least one identifying attribute.
    src_endpoint: ip ? { ip } : { name: 'unknown' },
    resources: event.resourceType || event.resourceId ? [resource(event)] : null,
    unmapped: Object.keys(unmapped).length ? unmapped : null,
  });
}

type Event = StreamEvent['event'];

function message(event: Event): string {
  const target = [event.resourceType, event.resourceId].filter(Boolean).join(' ');
  return `${event.action}${target ? ` ${target}` : ''}${event.status === 'failure' ? ' (failed)' : ''}`;
}

/** OCSF's user needs a uid or a name: an actor without an id is named by its type (system, anonymous). */
function actorUser(id: string | null, type: string): Record<string, unknown> {
  return compact({ uid: id, name: id ? null : type, type, type_id: USER_TYPES[type] ?? 99 });
}

function resource(event: Event): Record<string, unknown> {
  const data = compact({ before: event.before, after: event.after, changes: event.changes });
  return compact({
    type: event.resourceType,
    uid: event.resourceId,
    name: event.resourceId ? null : event.resourceType,
    data: Object.keys(data).length ? data : null,
  });
}

/** The object without its null and undefined members (OCSF: an absent attribute, not a null one). */
function compact(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== null && value !== undefined),
  );
}

let version: string | null | undefined;
/** This package's version (from its package.json, found above this file in src/ or dist/), or null. */
function productVersion(): string | null {
  if (version !== undefined) return version;
  version = null;
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === PRODUCT) return (version = pkg.version ?? null);
    } catch {
      // not here: look further up
    }
  }
  return version;
}
