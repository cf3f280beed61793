import { EventRow } from './events.repository';

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
    ip: row.ip,
    userAgent: row.user_agent,
    route: row.route,
    method: row.method,
    durationMs: row.duration_ms,
    metadata: row.metadata,
  };
}

export type EventView = ReturnType<typeof toEventView>;
