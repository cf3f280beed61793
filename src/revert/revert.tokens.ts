import type { AuditRevertHandler } from './revert.types';

/** Injection token of the registered handlers, by resource type. */
export const AUDIT_REVERT_HANDLERS = Symbol('AUDIT_REVERT_HANDLERS');

export interface RegisteredRevertHandler {
  handler: AuditRevertHandler;
  fields?: readonly string[];
}

export type RevertHandlers = ReadonlyMap<string, RegisteredRevertHandler>;
