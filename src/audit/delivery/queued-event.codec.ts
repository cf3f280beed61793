import type { QueuedEvent } from 'src/audit/audit-writer.service';

/**
 * One QueuedEvent as one line of JSON: how an event is kept outside the process (a Redis stream entry, a
 * spool segment). A positional array, not an object: the COPY line is most of the bytes, and it is kept
 * verbatim, so whatever reads it back writes exactly the row the capture encoded.
 */
type Encoded = [
  id: string,
  occurredAt: number,
  organizationId: string | null,
  resourceType: string | null,
  action: string,
  eventType: string,
  severity: string,
  enqueuedAt: number,
  line: string,
];

export function serializeQueued(event: QueuedEvent): string {
  const encoded: Encoded = [
    event.id,
    event.occurredAt.getTime(),
    event.organizationId,
    event.resourceType,
    event.action,
    event.eventType,
    event.severity,
    event.enqueuedAt,
    event.line,
  ];
  return JSON.stringify(encoded);
}

/** The inverse of `serializeQueued`; throws on anything it did not write (a corrupt entry is poison). */
export function deserializeQueued(text: string): QueuedEvent {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || value.length !== 9) throw new Error('not a serialized audit event');
  const [id, occurredAt, organizationId, resourceType, action, eventType, severity, enqueuedAt, line] =
    value as Encoded;
  if (
    typeof id !== 'string' ||
    typeof occurredAt !== 'number' ||
    typeof action !== 'string' ||
    typeof line !== 'string' ||
    !line.endsWith('\n')
  ) {
    throw new Error('not a serialized audit event');
  }
  return {
    id,
    occurredAt: new Date(occurredAt),
    organizationId,
    resourceType,
    action,
    eventType,
    severity,
    enqueuedAt,
    line,
  };
}
