import { Injectable, Optional } from '@nestjs/common';
import { escapeLiteral, PoolClient } from 'pg';
import { CopyToStreamQuery, to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { ReadReplicas } from '../common/database/read-replicas';
import { CursorPosition } from './cursor';
import { REASON_KEY, TRANSACTION_ID_KEY } from '../audit';
import { EventFilters } from './event-filters';
import { COLUMNS, EventRow, ipColumn, metadataColumn } from './event-row';

export type { EventRow } from './event-row';

const EQUALS: Array<[keyof EventFilters, string]> = [
  ['organizationId', 'organization_id'],
  ['actorId', 'actor_id'],
  ['resourceType', 'resource_type'],
  ['resourceId', 'resource_id'],
  ['action', 'action'],
  ['eventType', 'event_type'],
  ['status', 'status'],
  ['severity', 'severity'],
  ['requestId', 'request_id'],
];
/** The reserved metadata keys of reason and grouping (src/audit/reason.ts), as SQL literals. */
const REASON = escapeLiteral(REASON_KEY);
const TRANSACTION_ID = escapeLiteral(TRANSACTION_ID_KEY);
/** A LIKE pattern matching `text` anywhere, its own wildcards (and the escape character) taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;
const searchVector = (t = '') =>
  `audit_search_vector(${t}event_type, ${t}resource_type, ${t}resource_id, ${t}before, ${t}after)`;
export const SEARCH_VECTOR = searchVector();

/**
 * The public event shape (camelCase, DESIGN.md), computed by Postgres for exports: the rows leave the
 * database already serialized and Node only moves bytes (and decrypts personal data, PersonalDataService).
 * Same order as the CSV columns.
 */
const EXPORT_COLUMNS = `e.id,
  to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "occurredAt",
  e.organization_id AS "organizationId", e.actor_id AS "actorId", e.actor_type AS "actorType", e.action,
  e.event_type AS "eventType", e.resource_type AS "resourceType", e.resource_id AS "resourceId", e.status,
  e.status_code AS "statusCode", e.error_message AS "errorMessage", e.severity, e.request_id AS "requestId",
  ${ipColumn('e.')} AS ip, e.user_agent AS "userAgent", e.route, e.method, e.duration_ms AS "durationMs",
  e.before, e.after, e.changes, ${metadataColumn('e.')} AS metadata, e.metadata->>${REASON} AS reason,
  e.metadata->>${TRANSACTION_ID} AS "transactionId"`;

/**
 * COPY options for NDJSON: CSV format with a delimiter and a quote character that JSON text never contains
 * raw (Postgres escapes control characters in JSON strings), so each JSON document is written verbatim,
 * one per line. Text format would double every backslash.
 */
const VERBATIM_LINES = `(FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')`;

export type ExportFormat = 'ndjson' | 'csv';

/**
 * Collects WHERE clauses with their values: as parameters ($1, $2...), or, for COPY, which takes no
 * parameters, as escaped literals.
 */
class Where {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];
  constructor(private readonly inline = false) {}
  bind(value: string | number | Date): string {
    if (!this.inline) return `$${this.params.push(value)}`;
    return escapeLiteral(value instanceof Date ? value.toISOString() : String(value));
  }
  add(clause: string): this {
    this.clauses.push(clause);
    return this;
  }
  toString(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

/** `alias` qualifies the columns (`e.`) where the statement has other columns of the same names. */
function whereFor(filters: EventFilters, where = new Where(), alias = ''): Where {
  for (const [key, column] of EQUALS) {
    const value = filters[key];
    if (value !== undefined) where.add(`${alias}${column} = ${where.bind(value)}`);
  }
  // Plain comparisons on the partition key: the planner prunes partitions outside [from, to).
  if (filters.from) where.add(`${alias}occurred_at >= ${where.bind(filters.from)}::timestamptz`);
  if (filters.to) where.add(`${alias}occurred_at < ${where.bind(filters.to)}::timestamptz`);
  if (filters.q)
    where.add(`${searchVector(alias)} @@ websearch_to_tsquery('simple', ${where.bind(filters.q)})`);
  // A filter on the rows the organization/time (or other) index yields: no index of its own.
  if (filters.reason)
    where.add(`${alias}metadata->>${REASON} ILIKE ${where.bind(containing(filters.reason))}`);
  // Both clauses: the first is the predicate of the partial index audit_events_transaction_idx.
  if (filters.transactionId !== undefined)
    where.add(
      `${alias}metadata ? ${TRANSACTION_ID} AND ${alias}metadata->>${TRANSACTION_ID} = ${where.bind(filters.transactionId)}`,
    );
  return where;
}

/**
 * SQL of the read side. Keyset pagination only, on (occurred_at, id); never OFFSET. Reads go through the
 * view `audit_events_all`: the hot partitions and the warm ones (detached by the archive job) alike, on a
 * streaming replica when the app configured some (`ReadReplicas`), else on the app's DataSource.
 */
@Injectable()
export class EventsRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Optional() private readonly replicas?: ReadReplicas,
  ) {}

  private read<T>(sql: string, params: unknown[], options?: { primaryWhenEmpty?: boolean }): Promise<T[]> {
    return this.replicas ? this.replicas.query<T>(sql, params, options) : this.dataSource.query(sql, params);
  }

  /** Newest first, strictly after `after` in that order. */
  async page(filters: EventFilters, after: CursorPosition | null, limit: number): Promise<EventRow[]> {
    const where = whereFor(filters);
    if (after)
      where.add(
        `(occurred_at, id) < (${where.bind(after.occurredAt)}::timestamptz, ${where.bind(after.id)}::uuid)`,
      );
    return this.read(
      `SELECT ${COLUMNS} FROM audit_events_all ${where} ORDER BY occurred_at DESC, id DESC LIMIT ${where.bind(limit)}`,
      where.params,
    );
  }

  /** Oldest first (a resource's history). */
  async pageAscending(
    filters: EventFilters,
    after: CursorPosition | null,
    limit: number,
  ): Promise<EventRow[]> {
    const where = whereFor(filters);
    if (after)
      where.add(
        `(occurred_at, id) > (${where.bind(after.occurredAt)}::timestamptz, ${where.bind(after.id)}::uuid)`,
      );
    return this.read(
      `SELECT ${COLUMNS} FROM audit_events_all ${where} ORDER BY occurred_at ASC, id ASC LIMIT ${where.bind(limit)}`,
      where.params,
    );
  }

  /**
   * One actor's events in [from, to) per action (most first), on the tenant-first actor index
   * (actor_id, organization_id, occurred_at): one range scan per partition of the range.
   */
  async actionCounts(
    actorId: string,
    organizationId: string | undefined,
    from: Date,
    to: Date,
  ): Promise<Array<{ action: string; events: number; failures: number }>> {
    const where = whereFor({ actorId, organizationId, from, to });
    const rows = await this.read<{ action: string; events: string; failures: string }>(
      `SELECT action, count(*)::bigint AS events, count(*) FILTER (WHERE status = 'failure')::bigint AS failures
         FROM audit_events_all ${where} GROUP BY action ORDER BY count(*) DESC, action`,
      where.params,
    );
    return rows.map((r) => ({ action: r.action, events: Number(r.events), failures: Number(r.failures) }));
  }

  /**
   * One event by id. A UUIDv7 id carries the event's millisecond, so the lookup is pinned to that
   * millisecond: one partition, primary-key index. Not found on a replica, it is looked up on the primary:
   * an id the caller just got (read your own event) is found even before the replica has replayed it.
   */
  async findById(id: string, organizationId: string | undefined): Promise<EventRow | undefined> {
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    const where = new Where();
    where.add(`id = ${where.bind(id)}`);
    where.add(`occurred_at >= ${where.bind(new Date(millis).toISOString())}::timestamptz`);
    where.add(`occurred_at < ${where.bind(new Date(millis + 1).toISOString())}::timestamptz`);
    if (organizationId !== undefined) where.add(`organization_id = ${where.bind(organizationId)}`);
    const rows = await this.read<EventRow>(`SELECT ${COLUMNS} FROM audit_events_all ${where}`, where.params, {
      primaryWhenEmpty: true,
    });
    return rows[0];
  }

  /**
   * The export as `COPY ... TO STDOUT`: Postgres builds each line (NDJSON: `row_to_json`; CSV: its own
   * RFC 4180 writer with a header row) and streams it; the COPY stream pauses the connection when the
   * consumer is slow (backpressure), so memory stays flat whatever the size. The caller owns `client`.
   */
  copyExport(client: PoolClient, filters: EventFilters, format: ExportFormat): CopyToStreamQuery {
    const options = format === 'csv' ? '(FORMAT csv, HEADER)' : VERBATIM_LINES;
    return client.query(copyTo(`COPY (${this.exportSelect(filters, format)}) TO STDOUT WITH ${options}`));
  }

  /** The SELECT behind `copyExport`, values inlined as literals (COPY takes no parameters). */
  exportSelect(filters: EventFilters, format: ExportFormat): string {
    const where = whereFor(filters, new Where(true), 'e.');
    const order = 'ORDER BY e.occurred_at DESC, e.id DESC';
    return format === 'csv'
      ? `SELECT ${EXPORT_COLUMNS} FROM audit_events_all e ${where} ${order}`
      : `SELECT row_to_json(v) FROM audit_events_all e CROSS JOIN LATERAL (SELECT ${EXPORT_COLUMNS}) v ${where} ${order}`;
  }
}
