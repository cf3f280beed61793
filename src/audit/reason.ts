/**
 * Why a change was made, and what else was changed with it: reserved keys of an event's `metadata`.
 *
 * - `reason`: the caller's justification (`X-Audit-Reason`, a body field, `record({ reason })`,
 *   `withReason()`), trimmed, at most 500 characters.
 * - `transactionId`: the Postgres transaction (xid8, decimal text) a transactional capture wrote in.
 * - `affectedIds` / `affectedCount`: the rows of a `recordBulk()` event.
 *
 * Metadata is covered by the v1 event hash, so these are tamper-evident with no change to the canonical
 * form, the archives or the offline verifier. They belong to the library: a value a caller puts under one
 * of these keys in `record({ metadata })` is replaced by the library's own, or removed when it has none.
 */
import { BadRequestException } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';

export const REASON_KEY = 'reason';
export const TRANSACTION_ID_KEY = 'transactionId';
export const AFFECTED_IDS_KEY = 'affectedIds';
export const AFFECTED_COUNT_KEY = 'affectedCount';
export const RESERVED_METADATA_KEYS = [
  REASON_KEY,
  TRANSACTION_ID_KEY,
  AFFECTED_IDS_KEY,
  AFFECTED_COUNT_KEY,
] as const;

export const REASON_HEADER = 'x-audit-reason';
export const MAX_REASON_LENGTH = 500;
/** `recordBulk()` keeps this many ids in `metadata.affectedIds` (the count covers all). */
export const MAX_AFFECTED_IDS = 1000;

/** `@Audited({ reason })`: where a request's reason comes from, and whether a mutation needs one. */
export interface AuditReasonOptions {
  /** Header holding the reason. Default `X-Audit-Reason` (read on every audited mutation). */
  header?: string;
  /**
   * Body property (dotted path: `meta.reason`) holding the reason; it stays in the body for the handler.
   * Takes precedence over the header when both are present.
   */
  bodyField?: string;
  /** A mutation without a reason is refused with a 400 naming the header or body field, before the handler. */
  required?: boolean;
}

/** The reason of the code running inside `AuditService.withReason()`. */
export const reasonContext = new AsyncLocalStorage<{ reason: string | null }>();

/** A reason as stored: trimmed; empty is none; longer than the limit cut (programmatic callers). */
export function clipReason(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  if (!trimmed) return null;
  return trimmed.length > MAX_REASON_LENGTH ? trimmed.slice(0, MAX_REASON_LENGTH) : trimmed;
}

/**
 * The reason of an HTTP mutation, from the body field (when configured and present) or the header; null
 * when there is none and none is required. A reason longer than 500 characters, a body field that is not a
 * string, or a missing required reason is a 400 naming the header or the field (never its value).
 */
export function requestReason(
  request: IncomingMessage & { body?: unknown },
  options: AuditReasonOptions | undefined,
): string | null {
  const header = (options?.header ?? REASON_HEADER).toLowerCase();
  const field = options?.bodyField;
  if (field) {
    const value = valueAt(request.body, field);
    if (value !== undefined && value !== null) {
      if (typeof value !== 'string') throw refused(`${field} must be a string`);
      const reason = checked(value, field);
      if (reason) return reason;
    }
  }
  const raw = request.headers[header];
  const reason = checked(Array.isArray(raw) ? raw.join(', ') : raw, headerName(options?.header));
  if (reason || !options?.required) return reason;
  throw refused(
    field
      ? `a reason is required: ${field} or the ${headerName(options.header)} header`
      : `a reason is required: the ${headerName(options.header)} header`,
  );
}

/**
 * Sets the library's reserved keys on a metadata object: each key takes the library's value, or is removed
 * when the library has none. Metadata without reserved keys and nothing to add is returned as it is.
 */
export function withReserved(
  metadata: Record<string, unknown> | null | undefined,
  reserved: Partial<Record<(typeof RESERVED_METADATA_KEYS)[number], unknown>>,
): Record<string, unknown> | null | undefined {
  const touched = RESERVED_METADATA_KEYS.some(
    (key) => (reserved[key] !== null && reserved[key] !== undefined) || (metadata && key in metadata),
  );
  if (!touched) return metadata;
  const merged: Record<string, unknown> = { ...metadata };
  for (const key of RESERVED_METADATA_KEYS) {
    const value = reserved[key];
    if (value === null || value === undefined) delete merged[key];
    else merged[key] = value;
  }
  return Object.keys(merged).length > 0 ? merged : null;
}

function checked(value: string | undefined, name: string): string | null {
  const trimmed = value?.trim();
  if (!trimmed) return null;
  if (trimmed.length > MAX_REASON_LENGTH)
    throw refused(`${name} must be at most ${MAX_REASON_LENGTH} characters`);
  return trimmed;
}

const headerName = (header: string | undefined) => header ?? 'X-Audit-Reason';
const refused = (message: string) => new BadRequestException([message]);

function valueAt(body: unknown, path: string): unknown {
  let current = body;
  for (const key of path.split('.')) {
    if (!current || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key))
      return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
