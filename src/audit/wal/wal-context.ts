import { AsyncLocalStorage } from 'node:async_hooks';
import type { ActorType, AuditedOptions } from '../audit.types';
import type { EventDraft } from '../audit-event.factory';

/**
 * The application context of a write made under `@Audited({ consistency: 'wal' })`: what the row change in
 * the WAL cannot say by itself (who, from where, which request, why). It travels inside the write's own
 * transaction as a transactional logical message (`pg_logical_emit_message(true, WAL_CONTEXT_PREFIX, json)`),
 * so the slot consumer gets it with exactly the changes it belongs to, or not at all when they roll back.
 * Short keys: it is written to the WAL once per audited transaction.
 */
export interface WalContext {
  /** Format version. */
  v: 1;
  actor: { id: string | null; type: ActorType; org: string | null };
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  route: string | null;
  method: string | null;
  reason: string | null;
  /** The route's `severity` and `eventType`, when set. */
  severity?: string;
  eventType?: string;
  /** The route's extra redacted paths and ignored fields (`@Audited({ redact, ignoredFields })`). */
  redact?: string[];
  ignore?: string[];
}

/** The prefix of the application's context message. */
export const WAL_CONTEXT_PREFIX = 'nest_audit';
/**
 * The prefix of the session message: the database role and application name of a transaction, emitted once per
 * transaction by a statement trigger on each captured table (`nest_audit_wal_session()`, migration 0120).
 */
export const WAL_SESSION_PREFIX = 'nest_audit.session';

/** What the session trigger says about the transaction's connection. */
export interface WalSession {
  role: string;
  /** `current_user` when it differs from the session's role (SET ROLE, SECURITY DEFINER). */
  currentRole?: string;
  application: string;
}

/** A request's context, from the draft every one of its events starts from and the route's options. */
export function walContextOf(draft: EventDraft, options: AuditedOptions): WalContext {
  const reason = (draft.metadata?.reason as string | undefined) ?? null;
  return {
    v: 1,
    actor: { id: draft.actor.id, type: draft.actor.type, org: draft.actor.organizationId },
    requestId: draft.requestId ?? null,
    ip: draft.ip ?? null,
    userAgent: draft.userAgent ?? null,
    route: draft.route ?? null,
    method: draft.method ?? null,
    reason,
    ...(options.severity ? { severity: options.severity } : {}),
    ...(options.eventType ? { eventType: options.eventType } : {}),
    ...(options.redact?.length ? { redact: options.redact } : {}),
    ...(options.ignoredFields?.length ? { ignore: options.ignoredFields } : {}),
  };
}

/** The request whose writes are being captured, set by the interceptor around the handler. */
export const walCapture = new AsyncLocalStorage<WalContext>();

/**
 * The context as a SQL string literal (standard_conforming_strings: only `'` doubles), ready to be sent in a
 * simple query without a parameter. JSON escapes control characters and NUL cannot occur in JSON text.
 */
export function contextLiteral(context: WalContext): string {
  return `'${JSON.stringify(context).replace(/'/g, "''")}'`;
}

const ACTOR_TYPES = new Set<ActorType>(['user', 'service', 'system', 'anonymous']);
const text = (value: unknown, max = 2048): string | null =>
  typeof value === 'string' ? value.slice(0, max) : null;

/**
 * A context message read back from the WAL. Anyone who can write to the database can emit a message with our
 * prefix, so it is read defensively: unknown fields ignored, types checked, an actor type of `database` (or any
 * other that is not an application actor) refused, lengths capped. Null when it is not a context at all.
 */
export function parseContext(content: Uint8Array): WalContext | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object') return null;
  const raw = value as Record<string, unknown>;
  const actor = (raw.actor ?? {}) as Record<string, unknown>;
  if (raw.v !== 1 || !ACTOR_TYPES.has(actor.type as ActorType)) return null;
  const context: WalContext = {
    v: 1,
    actor: { id: text(actor.id, 256), type: actor.type as ActorType, org: text(actor.org, 256) },
    requestId: text(raw.requestId, 256),
    ip: text(raw.ip, 64),
    userAgent: text(raw.userAgent),
    route: text(raw.route),
    method: text(raw.method, 16),
    reason: text(raw.reason),
  };
  if (typeof raw.severity === 'string') context.severity = raw.severity;
  if (typeof raw.eventType === 'string') context.eventType = raw.eventType.slice(0, 128);
  const redact = strings(raw.redact);
  if (redact) context.redact = redact;
  const ignore = strings(raw.ignore);
  if (ignore) context.ignore = ignore;
  return context;
}

/** A short list of short strings, or undefined. */
function strings(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const list = value
    .filter((v): v is string => typeof v === 'string')
    .slice(0, 64)
    .map((v) => v.slice(0, 256));
  return list.length ? list : undefined;
}

export function parseSession(content: Uint8Array): WalSession | null {
  try {
    const raw = JSON.parse(Buffer.from(content).toString('utf8')) as Record<string, unknown>;
    const role = text(raw.role, 128);
    if (!role) return null;
    const session: WalSession = { role, application: text(raw.application, 128) ?? '' };
    const current = text(raw.currentRole, 128);
    if (current && current !== role) session.currentRole = current;
    return session;
  } catch {
    return null;
  }
}
