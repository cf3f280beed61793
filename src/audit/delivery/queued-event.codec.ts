import type { QueuedEvent } from '../queued-event';
import type { SubjectKeyRecord } from '../personal-data/subject-keyring';

type EncodedKey = [
  id: string,
  organizationId: string | null,
  subjectId: string,
  kekId: string,
  wrappedKey: string,
  createdAt: number,
];

/**
 * One QueuedEvent as one line of JSON: how an event is kept outside the process (a Redis stream entry, a
 * spool segment). A positional array, not an object: the COPY line is most of the bytes, and it is kept
 * verbatim, so whatever reads it back writes exactly the row the capture encoded. The subject keys it
 * carries (wrapped: never a plain data key) come last, only when there are any.
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
  keys?: EncodedKey[],
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
  if (event.keys?.length) {
    encoded.push(
      event.keys.map((k) => [k.id, k.organizationId, k.subjectId, k.kekId, k.wrappedKey, k.createdAt]),
    );
  }
  return JSON.stringify(encoded);
}

/** The inverse of `serializeQueued`; throws on anything it did not write (a corrupt entry is poison). */
export function deserializeQueued(text: string): QueuedEvent {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || (value.length !== 9 && value.length !== 10)) {
    throw new Error('not a serialized audit event');
  }
  const [id, occurredAt, organizationId, resourceType, action, eventType, severity, enqueuedAt, line, keys] =
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
  const queued: QueuedEvent = {
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
  if (keys !== undefined) queued.keys = keys.map(decodeKey);
  return queued;
}

function decodeKey(value: unknown): SubjectKeyRecord {
  if (!Array.isArray(value) || value.length !== 6) throw new Error('not a serialized audit event');
  const [id, organizationId, subjectId, kekId, wrappedKey, createdAt] = value as EncodedKey;
  if (
    typeof id !== 'string' ||
    typeof subjectId !== 'string' ||
    typeof wrappedKey !== 'string' ||
    typeof createdAt !== 'number'
  ) {
    throw new Error('not a serialized audit event');
  }
  return { id, organizationId, subjectId, kekId, wrappedKey, createdAt };
}
