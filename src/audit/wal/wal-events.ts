import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { EventDraft } from '../audit-event.factory';
import type { RedactionRules } from '../redaction';
import type { AuditAction, AuditSeverity } from '../audit.types';
import type { WalChange, WalTransaction } from './wal-transactions';

/** A captured table: how its rows become events. */
export interface WalTable {
  schema: string;
  table: string;
  resourceType: string;
  /** Column (database name) holding the primary key. */
  keyColumn: string;
  /** Column holding the organization, when the table is multi-tenant. */
  tenantColumn: string | null;
  /** Column database name -> the property name the trail shows (the entity's), for every column. */
  properties: ReadonlyMap<string, string>;
  rules: RedactionRules;
  ignoredFields: readonly string[];
}

export const tableKey = (schema: string, table: string): string => `${schema}.${table}`;

const ACTIONS: Record<WalChange['kind'], AuditAction> = {
  insert: 'create',
  update: 'update',
  delete: 'delete',
  truncate: 'truncate',
};
const SEVERITIES = new Set<AuditSeverity>(['info', 'notice', 'warning', 'critical']);

/** A draft and the id it must keep: the same change decoded twice (a replay) gives the same id. */
export interface WalDraft {
  id: string;
  draft: EventDraft;
}

/**
 * The events of one committed transaction: one per change of a captured table, in the order of the changes.
 * With an application context (the `@Audited` request that committed it), the actor and request are that
 * context's; without one, the writer bypassed the application (psql, a migration, a job without the decorator):
 * actor type `database`, the actor the database role, the application name in the metadata. Every event carries
 * the transaction (xid, commit LSN) in its metadata; a TRUNCATE is an event too (`truncate`, no resource id).
 */
export function walDrafts(tx: WalTransaction, tables: ReadonlyMap<string, WalTable>): WalDraft[] {
  const drafts: WalDraft[] = [];
  tx.changes.forEach((change, index) => {
    const table = tables.get(tableKey(change.schema, change.table));
    if (!table) return;
    const context = tx.context;
    const row = change.new ?? change.old;
    const before = change.old ? stateOf(change.old, table) : undefined;
    const after = change.new ? stateOf(change.new, table) : undefined;
    const database = tx.session
      ? {
          role: tx.session.role,
          application: tx.session.application,
          ...(tx.session.currentRole ? { currentRole: tx.session.currentRole } : {}),
        }
      : null;
    const metadata: Record<string, unknown> = {
      transactionId: String(tx.xid),
      wal: { lsn: tx.commitLsn, ...(database ? { database } : {}) },
    };
    if (context?.reason) metadata.reason = context.reason;
    const organizationId =
      context?.actor.org ?? (table.tenantColumn && row ? stringOrNull(row[table.tenantColumn]) : null);
    drafts.push({
      id: walEventId(tx, index),
      draft: {
        action: ACTIONS[change.kind],
        eventType: context?.eventType,
        actor: context
          ? { id: context.actor.id, type: context.actor.type, organizationId: context.actor.org }
          : { id: database?.role ?? null, type: 'database', organizationId },
        resourceType: table.resourceType,
        resourceId: row ? stringOrNull(row[table.keyColumn]) : null,
        before,
        after,
        diff: change.kind === 'update',
        recordNoOps: false,
        status: 'success',
        statusCode: null,
        severity:
          context?.severity && SEVERITIES.has(context.severity as AuditSeverity)
            ? (context.severity as AuditSeverity)
            : context || change.kind !== 'truncate'
              ? 'info'
              : 'warning',
        requestId: context?.requestId ?? null,
        ip: context?.ip ?? null,
        userAgent: context?.userAgent ?? null,
        route: context?.route ?? null,
        method: context?.method ?? null,
        metadata,
        occurredAt: tx.commitTime,
        rules: context?.redact ? rulesWith(table, context.redact) : table.rules,
        ignoredFields: context?.ignore ? [...table.ignoredFields, ...context.ignore] : table.ignoredFields,
      },
    });
  });
  return drafts;
}

/**
 * The event id of a change: a UUIDv7 of the commit time, its sequence the change's index in the transaction
 * (ids of one transaction increase in change order), its random bits a digest of the commit LSN and that index.
 * Deterministic, so a transaction decoded again after a restart inserts nothing twice.
 */
export function walEventId(tx: Pick<WalTransaction, 'commitLsn' | 'commitTime'>, index: number): string {
  const random = createHash('sha256').update(`${tx.commitLsn}#${index}`).digest().subarray(0, 16);
  return uuidv7({ msecs: tx.commitTime.getTime(), seq: index & 0x7fffffff, random });
}

/** A route's extra redacted paths on the table's rules, compiled once per list (a route's list never changes). */
const withPaths = new WeakMap<WalTable, Map<string, RedactionRules>>();
function rulesWith(table: WalTable, paths: readonly string[]): RedactionRules {
  let byPaths = withPaths.get(table);
  if (!byPaths) withPaths.set(table, (byPaths = new Map()));
  const key = paths.join('\n');
  let rules = byPaths.get(key);
  if (!rules) {
    rules = table.rules.withPaths(paths);
    if (byPaths.size < 256) byPaths.set(key, rules);
  }
  return rules;
}

/** The row as the trail shows it: property names, values as decoded. */
function stateOf(row: Record<string, unknown>, table: WalTable): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) state[table.properties.get(column) ?? column] = value;
  return state;
}

function stringOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : String(value);
}
