import { REASON_KEY, TRANSACTION_ID_KEY } from '../audit';
import { EventRow } from './event-row';

/** A reserved metadata key's text (reason, transaction id), lifted to the top of the view. */
function metadataText(metadata: unknown, key: string): string | null {
  const value = metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>)[key] : null;
  return typeof value === 'string' ? value : null;
}

/** The public JSON shape of an event (camelCase, as in DESIGN.md). */
export function toEventView(row: EventRow) {
  return {
    id: row.id,
    occurredAt: row.occurred_at.toISOString(),
    organizationId: row.organization_id,
    actorId: row.actor_id,
    actorType: row.actor_type,
    action: row.action,
    eventType: row.event_type,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    before: row.before,
    after: row.after,
    changes: row.changes,
    status: row.status,
    statusCode: row.status_code,
    errorMessage: row.error_message,
    severity: row.severity,
    requestId: row.request_id,
    /** Why (metadata.reason): X-Audit-Reason, a body field, record({ reason }) or withReason(). */
    reason: metadataText(row.metadata, REASON_KEY),
    /** The Postgres transaction a transactional capture wrote in (metadata.transactionId). */
    transactionId: metadataText(row.metadata, TRANSACTION_ID_KEY),
    ip: row.ip,
    userAgent: row.user_agent,
    route: row.route,
    method: row.method,
    durationMs: row.duration_ms,
    metadata: row.metadata,
  };
}

export type EventView = ReturnType<typeof toEventView>;
