import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CursorPosition } from 'src/query/cursor';

export interface EventFilters {
  organizationId?: string | null;
  actorId?: string;
  resourceType?: string;
  resourceId?: string;
  action?: string;
  status?: string;
}

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

const FILTER_COLUMNS: Record<keyof Omit<EventFilters, 'organizationId'>, string> = {
  actorId: 'actor_id',
  resourceType: 'resource_type',
  resourceId: 'resource_id',
  action: 'action',
  status: 'status',
};

/** SQL of the read side. Keyset pagination only: (occurred_at, id) descending, never OFFSET. */
@Injectable()
export class EventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async page(filters: EventFilters, after: CursorPosition | null, limit: number): Promise<EventRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    if (filters.organizationId !== undefined) {
      where.push(
        filters.organizationId === null
          ? 'organization_id IS NULL'
          : `organization_id = ${bind(filters.organizationId)}`,
      );
    }
    for (const [key, column] of Object.entries(FILTER_COLUMNS)) {
      const value = filters[key as keyof typeof FILTER_COLUMNS];
      if (value !== undefined) where.push(`${column} = ${bind(value)}`);
    }
    if (after)
      where.push(`(occurred_at, id) < (${bind(after.occurredAt)}::timestamptz, ${bind(after.id)}::uuid)`);
    const sql = `
      SELECT *, occurred_at::text AS occurred_at_text
      FROM audit_events
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY occurred_at DESC, id DESC
      LIMIT ${bind(limit)}`;
    return this.dataSource.query(sql, params);
  }
}
