import type { AuditEvent } from 'src/audit/audit.types';
import { encodeEvent } from 'src/audit/copy-format';
import type { SubjectKeyRecord } from 'src/audit/personal-data/subject-keyring';

/**
 * An event as the buffer holds it: already encoded to its COPY line (one flat string instead of an object
 * tree: a third of the memory and nothing for the GC to walk), plus what the writer and listeners need.
 */
export interface QueuedEvent {
  id: string;
  occurredAt: Date;
  organizationId: string | null;
  resourceType: string | null;
  action: string;
  eventType: string;
  severity: string;
  line: string;
  /** When the pipeline accepted it (epoch ms): the age of what waits, whatever `occurredAt` says. */
  enqueuedAt: number;
  /** Subject keys of its personal data not yet known stored: stored in the same transaction as the event. */
  keys?: SubjectKeyRecord[];
}

/** An event as the writer holds it, from the event built by capture. */
export function toQueued(event: AuditEvent, keys: SubjectKeyRecord[] = []): QueuedEvent {
  const queued: QueuedEvent = {
    id: event.id,
    occurredAt: event.occurredAt,
    organizationId: event.organizationId,
    resourceType: event.resourceType,
    action: event.action,
    eventType: event.eventType,
    severity: event.severity,
    line: encodeEvent(event),
    enqueuedAt: Date.now(),
  };
  if (keys.length > 0) queued.keys = keys;
  return queued;
}
