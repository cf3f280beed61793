import { Client } from 'pg';

/** Whether each successful mutation the load generator saw has exactly one event with its request id. */
export interface RequestIdCheck {
  /** Successful mutations (warm-up and span), by the X-Request-Id of their responses. */
  mutations: number;
  /** Of those, with no event, and with more than one. */
  missing: number;
  duplicated: number;
  /**
   * Mutation events of no counted response: requests still in flight when the load generator stopped (served
   * and recorded, not counted), at most one per connection per load run.
   */
  uncounted: number;
  /** Events of writes with no application context (actor `database`): none should come from the API. */
  database: number;
  ok: boolean;
}

/**
 * The stricter check of the `wal` variants, whose mutation events are built by a worker from the slot and
 * joined to the request by transaction: every successful create, update and delete in the audit trail once,
 * under its own request id, none recorded as a `database` write.
 */
export async function checkRequestIds(
  sql: Client,
  ids: readonly string[],
  connections: number,
): Promise<RequestIdCheck> {
  const { rows } = await sql.query<{ request_id: string | null; n: number; database: number }>(
    `SELECT request_id, count(*)::int AS n,
            count(*) FILTER (WHERE actor_type NOT IN ('user', 'service', 'system', 'anonymous'))::int AS database
       FROM audit_events
      WHERE action IN ('create', 'update', 'delete') AND status = 'success'
      GROUP BY request_id`,
  );
  const events = new Map(rows.map((row) => [row.request_id, row.n]));
  let missing = 0;
  let duplicated = 0;
  for (const id of ids) {
    const n = events.get(id) ?? 0;
    if (n === 0) missing++;
    else if (n > 1) duplicated++;
  }
  const counted = new Set(ids);
  const uncounted = rows
    .filter((row) => row.request_id === null || !counted.has(row.request_id))
    .reduce((sum, row) => sum + row.n, 0);
  const database = rows.reduce((sum, row) => sum + row.database, 0);
  return {
    mutations: ids.length,
    missing,
    duplicated,
    uncounted,
    database,
    ok: missing === 0 && duplicated === 0 && database === 0 && uncounted <= 2 * connections,
  };
}
