import type { AuditEvent } from 'src/audit/audit.types';
import { QueuedEvent, toQueued } from 'src/audit/delivery/queued-event';
import type { PersonalDataProtector } from 'src/audit/personal-data/personal-data.protector';

/**
 * A built event as the writer queues it: personal values encrypted (the keys it needs travel with it), then
 * encoded to its COPY line with its event hash. The same on the request thread and in the encoder thread.
 */
export function queueEvent(protector: PersonalDataProtector | null, event: AuditEvent): QueuedEvent {
  if (!protector) return toQueued(event);
  const { event: stored, keys } = protector.protect(event);
  return toQueued(stored, keys);
}
