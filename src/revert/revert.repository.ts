import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** An event's columns a revert reads (states still as stored: personal values encrypted). */
export interface RevertEventRow {
  id: string;
  occurred_at_text: string;
  organization_id: string | null;
  action: string;
  status: string;
  resource_type: string | null;
  resource_id: string | null;
  request_id: string | null;
  before: unknown;
  after: unknown;
  changes: unknown;
}

const COLUMNS = `id, occurred_at::text AS occurred_at_text, organization_id, action, status, resource_type,
  resource_id, request_id, before, after, changes`;

/**
 * Events that carry a state of their resource: creates, updates, deletes and reverts, successful, or failed
 * after committing their change (the interceptor then records before and after on the failure).
 */
const STATE_EVENTS = `action IN ('create', 'update', 'delete', 'revert') AND (before IS NOT NULL OR after IS NOT NULL)`;

/** The most events a revert reads after its target; beyond, it is refused (revert in steps). */
export const MAX_EVENTS_SINCE = 1000;

/** `organization_id = $n`, or `IS NULL` for events without an organization (system resources). */
const orgClause = (params: unknown[], organizationId: string | null) =>
  organizationId === null ? 'organization_id IS NULL' : `organization_id = $${params.push(organizationId)}`;

/** SQL of the revert feature: reads the trail through `audit_events_all` (hot and warm partitions). */
@Injectable()
export class RevertRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One event of the organization, by id (pinned to the millisecond its UUIDv7 carries: one partition). */
  async findEvent(id: string, organizationId: string | null): Promise<RevertEventRow | undefined> {
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    const params: unknown[] = [id, new Date(millis).toISOString(), new Date(millis + 1).toISOString()];
    const rows: RevertEventRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM audit_events_all
        WHERE id = $1 AND occurred_at >= $2::timestamptz AND occurred_at < $3::timestamptz
          AND ${orgClause(params, organizationId)}`,
      params,
    );
    return rows[0];
  }

  /** The resource's state events strictly after the given one, oldest first (on the resource index). */
  async stateEventsAfter(
    resourceType: string,
    resourceId: string,
    organizationId: string | null,
    after: { occurredAt: string; id: string },
  ): Promise<RevertEventRow[]> {
    const params: unknown[] = [resourceType, resourceId, after.occurredAt, after.id];
    return this.dataSource.query(
      `SELECT ${COLUMNS} FROM audit_events_all
        WHERE resource_type = $1 AND resource_id = $2 AND ${orgClause(params, organizationId)}
          AND (occurred_at, id) > ($3::timestamptz, $4::uuid) AND ${STATE_EVENTS}
        ORDER BY occurred_at, id LIMIT ${MAX_EVENTS_SINCE + 1}`,
      params,
    );
  }

  /**
   * The state events one request made in the organization, oldest first, on the request index
   * (`audit_events_request_idx`: request_id, occurred_at, id).
   */
  async stateEventsOfRequest(requestId: string, organizationId: string | null): Promise<RevertEventRow[]> {
    const params: unknown[] = [requestId];
    return this.dataSource.query(
      `SELECT ${COLUMNS} FROM audit_events_all
        WHERE request_id = $1 AND ${orgClause(params, organizationId)} AND ${STATE_EVENTS}
          AND resource_type IS NOT NULL AND resource_id IS NOT NULL
        ORDER BY occurred_at, id LIMIT ${MAX_EVENTS_SINCE + 1}`,
      params,
    );
  }
}
