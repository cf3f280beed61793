import { Injectable, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ReadReplicas } from '../common/database/read-replicas';
import { STATE_EVENT_SQL, StateEvent } from './as-of.state';

/** A resource, in the organization scope of the caller (undefined: every organization, audit:read:all). */
export interface ResourceScope {
  organizationId: string | undefined;
  resourceType: string;
  resourceId: string;
}

/** An event that bears on its resource's state, as the as-of reads need it. */
export interface StateEventRow extends StateEvent {
  id: string;
  occurred_at: Date;
  /** Microsecond text of occurred_at, for the keyset of the next (older) batch. */
  occurred_at_text: string;
  actor_id: string | null;
}

function where(scope: ResourceScope, at: Date, params: unknown[]): string {
  const bind = (value: unknown) => `$${params.push(value)}`;
  // The resource index (resource_type, resource_id, occurred_at, id), read backwards from `at`: the
  // newest state-bearing event is the first index entry whose row passes the filter.
  const clauses = [
    `resource_type = ${bind(scope.resourceType)}`,
    `resource_id = ${bind(scope.resourceId)}`,
    `occurred_at <= ${bind(at.toISOString())}::timestamptz`,
    STATE_EVENT_SQL,
  ];
  if (scope.organizationId !== undefined) clauses.push(`organization_id = ${bind(scope.organizationId)}`);
  return clauses.join(' AND ');
}

/**
 * SQL of the as-of reads: a resource's state-bearing events at or before an instant, newest first. On a
 * streaming replica when the app configured some (`ReadReplicas`).
 */
@Injectable()
export class AsOfRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Optional() private readonly replicas?: ReadReplicas,
  ) {}

  private read<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.replicas ? this.replicas.query<T>(sql, params) : this.dataSource.query(sql, params);
  }

  /**
   * Up to `limit` state-bearing events of the resource at or before `at`, newest first, strictly older
   * than `olderThan` (the last row of the previous batch) when given.
   */
  async newestStateEvents(
    scope: ResourceScope,
    at: Date,
    limit: number,
    olderThan: { occurredAt: string; id: string } | null = null,
  ): Promise<StateEventRow[]> {
    const params: unknown[] = [];
    let sql = where(scope, at, params);
    if (olderThan) {
      sql += ` AND (occurred_at, id) < ($${params.push(olderThan.occurredAt)}::timestamptz, $${params.push(olderThan.id)}::uuid)`;
    }
    return this.read(
      `SELECT id, occurred_at, occurred_at::text AS occurred_at_text, actor_id, action, status, before, after, changes
         FROM audit_events_all WHERE ${sql}
        ORDER BY occurred_at DESC, id DESC LIMIT $${params.push(limit)}`,
      params,
    );
  }

  /** How many state-bearing events of the resource there are at or before `at` (its versions so far). */
  async countStateEvents(scope: ResourceScope, at: Date): Promise<number> {
    const params: unknown[] = [];
    const rows = await this.read<{ n: string }>(
      `SELECT count(*)::bigint AS n FROM audit_events_all WHERE ${where(scope, at, params)}`,
      params,
    );
    return Number(rows[0]?.n ?? 0);
  }
}
