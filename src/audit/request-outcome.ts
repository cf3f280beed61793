/** What a request's outcome adds to its audit event: the pure parts of the interceptor. */
import { HttpException, ServiceUnavailableException } from '@nestjs/common';
import { AuditSeverity, AuditStatus } from './audit.types';

/** The states of a row a request mutates, and the slots to release once its event is built. */
export interface RequestStates {
  before(): unknown;
  after(result: unknown): unknown;
  release(): void;
}

export const NO_STATES: RequestStates = {
  before: () => undefined,
  after: (result) => result,
  release: () => undefined,
};

/** What the outcome of a request adds to its event's draft (the request's own facts are the rest). */
export interface Outcome {
  status: AuditStatus;
  statusCode: number;
  severity: AuditSeverity;
  /** The created resource's id, read from the response (used when the route has none). */
  resourceId: string | null | undefined;
  before: unknown;
  after: unknown;
  diff: boolean;
  partialAfter: boolean;
  recordNoOps: boolean | undefined;
  metadata: Record<string, unknown> | undefined;
  errorMessage: string | undefined;
}

/** An outcome with every field present (one object shape; see the draft literal in `intercept`). */
export const outcome = (
  status: AuditStatus,
  statusCode: number,
  severity: AuditSeverity,
  parts: Partial<Omit<Outcome, 'status' | 'statusCode' | 'severity'>>,
): Outcome => ({
  status,
  statusCode,
  severity,
  resourceId: parts.resourceId,
  before: parts.before,
  after: parts.after,
  diff: parts.diff ?? false,
  partialAfter: parts.partialAfter ?? false,
  recordNoOps: parts.recordNoOps,
  metadata: parts.metadata,
  errorMessage: parts.errorMessage,
});

/** The request's part of a transactional write's event: the subscriber adds what the write changed. */
export const transactionalOutcome = (statusCode: number): Outcome =>
  outcome('success', statusCode, 'info', {});

export const unavailable = () => new ServiceUnavailableException('Audit trail unavailable, try again later');

export function listItems(result: unknown): unknown[] | undefined {
  if (Array.isArray(result)) return result;
  if (result && typeof result === 'object') {
    for (const key of ['items', 'data', 'results']) {
      const value = (result as Record<string, unknown>)[key];
      if (Array.isArray(value)) return value;
    }
  }
  return undefined;
}

export function idOf(value: unknown, path: string): string | null {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (!current || typeof current !== 'object') return null;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' || typeof current === 'number' || typeof current === 'bigint'
    ? String(current)
    : null;
}

export function errorMessage(error: unknown): string {
  if (error instanceof HttpException) {
    const body = error.getResponse();
    if (typeof body === 'string') return body;
    const message = (body as { message?: unknown }).message;
    return Array.isArray(message) ? message.join('; ') : String(message ?? error.message);
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : 'Unknown error';
}
