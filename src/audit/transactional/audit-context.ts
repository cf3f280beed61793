import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventDraft } from '../audit-event.factory';
import type { AuditTarget } from '../audit-target.resolver';

/** What the transactional subscriber needs to know about the request it is running in. */
export interface TransactionalCapture {
  target: AuditTarget;
  /** The request context of the event (actor, request id, route...), computed when the write happens. */
  base: () => Omit<EventDraft, 'status' | 'severity' | 'action'>;
  /** Locked before states by entity id, between the before and after hooks. */
  before: Map<string, unknown>;
  captured: number;
}

export const transactionalCapture = new AsyncLocalStorage<TransactionalCapture>();
