import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Full-text search over event type, resource and the string values of the states, and the materialized
 * views behind the dashboard stats.
 *
 * The search index is deliberately NOT declared on the parent table: a GIN index over the states made each
 * ingested row ~3.5x more expensive for Postgres (35 -> 125 us CPU per row, bench/ingest). The partition
 * job builds it on each partition once its month is over (and on DEFAULT), so the month being written
 * ingests at full speed and searches of the current month scan it with the other filters. Each view has a unique index so it can be refreshed CONCURRENTLY
 * (readers are never blocked); organization and resource type are coalesced to '' for that index.
 */
export class AuditSearchAndStats1795390000002 implements MigrationInterface {
  name = 'AuditSearchAndStats1795390000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    // IMMUTABLE (the 'simple' config is fixed), so it can back an expression index; queries call the same
    // function so the planner matches the index.
    await queryRunner.query(`
      CREATE FUNCTION audit_search_vector(event_type text, resource_type text, resource_id text, before jsonb, after jsonb)
      RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT to_tsvector('simple'::regconfig, coalesce(event_type, '') || ' ' || coalesce(resource_type, '') || ' ' || coalesce(resource_id, ''))
            || jsonb_to_tsvector('simple'::regconfig, coalesce(before, 'null'::jsonb), '["string"]')
            || jsonb_to_tsvector('simple'::regconfig, coalesce(after, 'null'::jsonb), '["string"]')
      $$`);

    await queryRunner.query(`
      CREATE MATERIALIZED VIEW audit_stats_daily AS
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date AS day,
               coalesce(organization_id, '') AS organization_id,
               action,
               coalesce(resource_type, '') AS resource_type,
               count(*)::bigint AS events,
               count(*) FILTER (WHERE status = 'failure')::bigint AS failures
          FROM audit_events
         GROUP BY 1, 2, 3, 4`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX audit_stats_daily_key ON audit_stats_daily (day, organization_id, action, resource_type)`,
    );
    await queryRunner.query(`
      CREATE MATERIALIZED VIEW audit_stats_actors_daily AS
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date AS day,
               coalesce(organization_id, '') AS organization_id,
               count(DISTINCT actor_id)::bigint AS distinct_actors
          FROM audit_events
         GROUP BY 1, 2`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX audit_stats_actors_daily_key ON audit_stats_actors_daily (day, organization_id)`,
    );
    await queryRunner.query(`
      CREATE TABLE audit_stats_refreshes (
        view_name    text        NOT NULL,
        refreshed_at timestamptz NOT NULL,
        duration_ms  integer     NOT NULL,
        CONSTRAINT audit_stats_refreshes_pkey PRIMARY KEY (view_name)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_stats_refreshes`);
    await queryRunner.query(`DROP MATERIALIZED VIEW audit_stats_actors_daily`);
    await queryRunner.query(`DROP MATERIALIZED VIEW audit_stats_daily`);
    // Per-partition search indexes depend on the function: drop them first.
    await queryRunner.query(`
      DO $$
      DECLARE idx record;
      BEGIN
        FOR idx IN SELECT indexrelid::regclass AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    WHERE c.relname LIKE 'audit_events%_search_idx' LOOP
          EXECUTE format('DROP INDEX %s', idx.name);
        END LOOP;
      END $$`);
    await queryRunner.query(`DROP FUNCTION audit_search_vector(text, text, text, jsonb, jsonb)`);
  }
}
