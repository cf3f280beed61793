import { MigrationInterface, QueryRunner } from 'typeorm';

/** How many whole UTC days (before today) the top-actors view keeps, besides today. */
export const ACTOR_STATS_DAYS = 90;

/**
 * Top actors for the dashboards (`GET <admin>/stats?groupBy=actor`): `audit_stats_actors_recent`, events
 * and failures per (organization, UTC day, actor) over the last 90 days, evaluated at each refresh (the
 * window starts at 00:00 UTC 90 days back, so every day in it is whole). It reads `audit_events_all`, the
 * source of the other stats views (hot and warm partitions alike), and has a unique key, tenant first, so
 * the stats job refreshes it CONCURRENTLY. Events without an organization or an actor count under ''.
 *
 * Whoever may read `audit_stats_daily` (the app role made by `create-role`, any other grantee) may read
 * the new view too: the grants are copied here, so an upgrade does not need `create-role` again.
 */
export class StatsActorsRecent1795390000080 implements MigrationInterface {
  name = 'StatsActorsRecent1795390000080';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE MATERIALIZED VIEW "audit_stats_actors_recent" AS
        SELECT coalesce(organization_id, '') AS organization_id,
               date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date AS day,
               coalesce(actor_id, '') AS actor_id,
               count(*)::bigint AS events,
               count(*) FILTER (WHERE status = 'failure')::bigint AS failures
          FROM "audit_events_all"
         WHERE occurred_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '${ACTOR_STATS_DAYS} days') AT TIME ZONE 'UTC'
         GROUP BY 1, 2, 3`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "audit_stats_actors_recent_key" ON "audit_stats_actors_recent" (organization_id, day, actor_id)`,
    );
    await copyGrants(queryRunner, 'audit_stats_daily', 'SELECT', 'audit_stats_actors_recent', 'SELECT');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP MATERIALIZED VIEW "audit_stats_actors_recent"`);
    await queryRunner.query(
      `DELETE FROM "audit_stats_refreshes" WHERE view_name = 'audit_stats_actors_recent'`,
    );
  }
}

/**
 * Grants `granted` on `target` to every role (PUBLIC included) that holds `privilege` on `source`, its
 * owner excepted. Names are fixed identifiers of the migrations, never input.
 */
export async function copyGrants(
  queryRunner: QueryRunner,
  source: string,
  privilege: string,
  target: string,
  granted: string,
): Promise<void> {
  await queryRunner.query(`
    DO $$
    DECLARE grantee text;
    BEGIN
      FOR grantee IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
          FROM pg_class c
          CROSS JOIN LATERAL aclexplode(c.relacl) a
          LEFT JOIN pg_roles r ON r.oid = a.grantee
         WHERE c.oid = '"${source}"'::regclass AND a.privilege_type = '${privilege}' AND a.grantee <> c.relowner
      LOOP
        EXECUTE format('GRANT ${granted} ON "${target}" TO %s', grantee);
      END LOOP;
    END $$`);
}
