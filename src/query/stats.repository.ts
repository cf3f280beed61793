import { Injectable, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ReadReplicas } from '../common/database/read-replicas';

export const STATS_VIEWS = [
  'audit_stats_daily',
  'audit_stats_actors_daily',
  'audit_stats_actors_recent',
] as const;
/** Fixed key: only one replica refreshes the views at a time. */
const REFRESH_LOCK_KEY = 7_331_003;

export type StatsGroup = 'day' | 'action' | 'resourceType' | 'organization';

export interface StatsRow {
  /** The group: a day (YYYY-MM-DD), action, resource type, organization or actor id. */
  key: string;
  /** Only with groupBy=dayAction (then `key` is the day). */
  action?: string;
  events: number;
  failures: number;
  distinctActors?: number;
}

type CountRow = { key: string; events: string; failures: string };

const GROUP_COLUMN: Record<StatsGroup, string> = {
  day: `to_char(d.day, 'YYYY-MM-DD')`,
  action: 'd.action',
  resourceType: 'd.resource_type',
  organization: 'd.organization_id',
};

/**
 * Reads only the materialized views (never the events table), on a streaming replica when the app
 * configured some (`ReadReplicas`), and refreshes them (on the primary).
 */
@Injectable()
export class StatsRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Optional() private readonly replicas?: ReadReplicas,
  ) {}

  private read<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.replicas ? this.replicas.query<T>(sql, params) : this.dataSource.query(sql, params);
  }

  async grouped(
    group: StatsGroup,
    organizationId: string | undefined,
    from?: Date,
    to?: Date,
  ): Promise<StatsRow[]> {
    const { params, whereSql } = daysWhere(organizationId, from, to);
    const key = GROUP_COLUMN[group];
    // Distinct actors cannot be added up across actions or resource types, only across days of one org.
    const actors =
      group === 'day'
        ? `, (SELECT sum(a.distinct_actors) FROM audit_stats_actors_daily a
              WHERE a.day = d.day ${organizationId !== undefined ? 'AND a.organization_id = $1' : ''})::bigint AS distinct_actors`
        : '';
    const rows: Array<{ key: string; events: string; failures: string; distinct_actors?: string }> =
      await this.read(
        `SELECT ${key} AS key, sum(d.events)::bigint AS events, sum(d.failures)::bigint AS failures${actors}
           FROM audit_stats_daily d ${whereSql}
          GROUP BY ${group === 'day' ? 'd.day' : key} ORDER BY 1`,
        params,
      );
    return rows.map((r) => ({
      key: r.key,
      events: Number(r.events),
      failures: Number(r.failures),
      ...(r.distinct_actors !== undefined ? { distinctActors: Number(r.distinct_actors ?? 0) } : {}),
    }));
  }

  /** Per (day, action), ordered by day then action: `key` is the day. */
  async byDayAndAction(organizationId: string | undefined, from?: Date, to?: Date): Promise<StatsRow[]> {
    const { params, whereSql } = daysWhere(organizationId, from, to);
    const rows = await this.read<CountRow & { action: string }>(
      `SELECT to_char(d.day, 'YYYY-MM-DD') AS key, d.action, sum(d.events)::bigint AS events,
              sum(d.failures)::bigint AS failures
         FROM audit_stats_daily d ${whereSql}
        GROUP BY d.day, d.action ORDER BY d.day, d.action`,
      params,
    );
    return rows.map((r) => ({ key: r.key, action: r.action, ...counts(r) }));
  }

  /**
   * The `limit` actors with the most events over the days of [from, to), from `audit_stats_actors_recent`
   * (the last 90 days only): most events first, then by actor id. Key '' = events without an actor.
   */
  async topActors(
    organizationId: string | undefined,
    limit: number,
    from?: Date,
    to?: Date,
  ): Promise<StatsRow[]> {
    const { params, whereSql } = daysWhere(organizationId, from, to);
    const rows = await this.read<CountRow>(
      `SELECT d.actor_id AS key, sum(d.events)::bigint AS events, sum(d.failures)::bigint AS failures
         FROM audit_stats_actors_recent d ${whereSql}
        GROUP BY d.actor_id ORDER BY sum(d.events) DESC, d.actor_id LIMIT $${params.push(limit)}`,
      params,
    );
    return rows.map((r) => ({ key: r.key, ...counts(r) }));
  }

  /** When the views were last refreshed (the oldest of them), or null if one never was. */
  async refreshedAt(): Promise<Date | null> {
    const [row] = await this.read<{ at: Date | null }>(
      `SELECT CASE WHEN count(*) = $1 THEN min(refreshed_at) END AS at FROM audit_stats_refreshes
        WHERE view_name = ANY($2)`,
      [STATS_VIEWS.length, STATS_VIEWS],
    );
    return row?.at ?? null;
  }

  /** Refreshes every view CONCURRENTLY under an advisory lock; false when another replica holds it. */
  async refreshAll(): Promise<boolean> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        REFRESH_LOCK_KEY,
      ]);
      if (!locked) return false;
      try {
        for (const view of STATS_VIEWS) {
          const started = Date.now();
          // CONCURRENTLY: dashboards keep reading the old contents while the new ones are computed.
          await runner.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${view}`);
          await runner.query(
            `INSERT INTO audit_stats_refreshes (view_name, refreshed_at, duration_ms) VALUES ($1, now(), $2)
             ON CONFLICT (view_name) DO UPDATE SET refreshed_at = excluded.refreshed_at, duration_ms = excluded.duration_ms`,
            [view, Date.now() - started],
          );
        }
        return true;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [REFRESH_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  }
}

const counts = (r: CountRow) => ({ events: Number(r.events), failures: Number(r.failures) });

/** Tenant and whole UTC days of [from, to), on a stats view aliased `d` (`organization_id`, `day`). */
function daysWhere(organizationId: string | undefined, from?: Date, to?: Date) {
  const params: unknown[] = [];
  const where: string[] = [];
  if (organizationId !== undefined) where.push(`d.organization_id = $${params.push(organizationId)}`);
  if (from)
    where.push(`d.day >= ($${params.push(from.toISOString())}::timestamptz AT TIME ZONE 'UTC')::date`);
  if (to) where.push(`d.day < ($${params.push(to.toISOString())}::timestamptz AT TIME ZONE 'UTC')::date`);
  return { params, whereSql: where.length ? `WHERE ${where.join(' AND ')}` : '' };
}
