import { Injectable } from '@nestjs/common';
import { PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import { DataSource } from 'typeorm';
import { CursorPosition } from 'src/query/cursor';
import { EventFilters } from 'src/query/event-filters';

export interface EventRow {
  id: string;
  occurred_at: Date;
  occurred_at_text: string;
  organization_id: string | null;
  actor_id: string | null;
  actor_type: string;
  action: string;
  event_type: string;
  resource_type: string | null;
  resource_id: string | null;
  before: unknown;
  after: unknown;
  changes: unknown;
  status: string;
  status_code: number | null;
  error_message: string | null;
  severity: string;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  route: string | null;
  method: string | null;
  duration_ms: number | null;
  metadata: unknown;
}

const EQUALS: Array<[keyof EventFilters, string]> = [
  ['organizationId', 'organization_id'],
  ['actorId', 'actor_id'],
  ['resourceType', 'resource_type'],
  ['resourceId', 'resource_id'],
  ['action', 'action'],
  ['eventType', 'event_type'],
  ['status', 'status'],
  ['severity', 'severity'],
];
const COLUMNS = `id, occurred_at, occurred_at::text AS occurred_at_text, organization_id, actor_id, actor_type, action,
  event_type, resource_type, resource_id, before, after, changes, status, status_code, error_message, severity,
  request_id, host(ip) AS ip, user_agent, route, method, duration_ms, metadata`;
export const SEARCH_VECTOR = 'audit_search_vector(event_type, resource_type, resource_id, before, after)';

/** Collects WHERE clauses and their parameters ($1, $2...) together. */
class Where {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];
  bind(value: unknown): string {
    return `$${this.params.push(value)}`;
  }
  add(clause: string): this {
    this.clauses.push(clause);
    return this;
  }
  toString(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

function whereFor(filters: EventFilters): Where {
  const where = new Where();
  for (const [key, column] of EQUALS) {
    const value = filters[key];
    if (value !== undefined) where.add(`${column} = ${where.bind(value)}`);
  }
  // Plain comparisons on the partition key: the planner prunes partitions outside [from, to).
  if (filters.from) where.add(`occurred_at >= ${where.bind(filters.from)}`);
  if (filters.to) where.add(`occurred_at < ${where.bind(filters.to)}`);
  if (filters.q) where.add(`${SEARCH_VECTOR} @@ websearch_to_tsquery('simple', ${where.bind(filters.q)})`);
  return where;
}

/** SQL of the read side. Keyset pagination only, on (occurred_at, id); never OFFSET. */
@Injectable()
export class EventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Newest first, strictly after `after` in that order. */
  async page(filters: EventFilters, after: CursorPosition | null, limit: number): Promise<EventRow[]> {
    const where = whereFor(filters);
    if (after)
      where.add(
        `(occurred_at, id) < (${where.bind(after.occurredAt)}::timestamptz, ${where.bind(after.id)}::uuid)`,
      );
    return this.dataSource.query(
      `SELECT ${COLUMNS} FROM audit_events ${where} ORDER BY occurred_at DESC, id DESC LIMIT ${where.bind(limit)}`,
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
    return this.dataSource.query(
      `SELECT ${COLUMNS} FROM audit_events ${where} ORDER BY occurred_at ASC, id ASC LIMIT ${where.bind(limit)}`,
      where.params,
    );
  }

  /**
   * One event by id. A UUIDv7 id carries the event's millisecond, so the lookup is pinned to that
   * millisecond: one partition, primary-key index.
   */
  async findById(id: string, organizationId: string | undefined): Promise<EventRow | undefined> {
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    const where = new Where();
    where.add(`id = ${where.bind(id)}`);
    where.add(`occurred_at >= ${where.bind(new Date(millis).toISOString())}::timestamptz`);
    where.add(`occurred_at < ${where.bind(new Date(millis + 1).toISOString())}::timestamptz`);
    if (organizationId !== undefined) where.add(`organization_id = ${where.bind(organizationId)}`);
    const rows: EventRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM audit_events ${where}`,
      where.params,
    );
    return rows[0];
  }

  /**
   * A server-side cursor over every matching event, newest first, read in chunks as the consumer asks
   * (backpressure): memory stays flat whatever the size. The caller owns `client` and releases it.
   */
  stream(client: PoolClient, filters: EventFilters): QueryStream {
    const where = whereFor(filters);
    const query = new QueryStream(
      `SELECT ${COLUMNS} FROM audit_events ${where} ORDER BY occurred_at DESC, id DESC`,
      where.params,
      { batchSize: 500, highWaterMark: 1000 },
    );
    return client.query(query);
  }
}
