import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The dashboard stats count warm partitions too: the views are rebuilt over `audit_events_all` (hot +
 * warm). Otherwise a month would vanish from the stats the day the archive job detaches it, while its
 * events are still searchable. Same columns and tenant-first unique keys, so REFRESH ... CONCURRENTLY and
 * the stats queries are unchanged.
 */
export class StatsOverWarmPartitions1795390000011 implements MigrationInterface {
  name = 'StatsOverWarmPartitions1795390000011';

  async up(queryRunner: QueryRunner): Promise<void> {
    await rebuild(queryRunner, 'audit_events_all');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await rebuild(queryRunner, 'audit_events');
  }
}

async function rebuild(queryRunner: QueryRunner, source: 'audit_events' | 'audit_events_all'): Promise<void> {
  await queryRunner.query(`DROP MATERIALIZED VIEW "audit_stats_actors_daily"`);
  await queryRunner.query(`DROP MATERIALIZED VIEW "audit_stats_daily"`);
  await queryRunner.query(`
    CREATE MATERIALIZED VIEW "audit_stats_daily" AS
      SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date AS day,
             coalesce(organization_id, '') AS organization_id,
             action,
             coalesce(resource_type, '') AS resource_type,
             count(*)::bigint AS events,
             count(*) FILTER (WHERE status = 'failure')::bigint AS failures
        FROM "${source}"
       GROUP BY 1, 2, 3, 4`);
  await queryRunner.query(
    `CREATE UNIQUE INDEX "audit_stats_daily_key" ON "audit_stats_daily" (organization_id, day, action, resource_type)`,
  );
  await queryRunner.query(`
    CREATE MATERIALIZED VIEW "audit_stats_actors_daily" AS
      SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date AS day,
             coalesce(organization_id, '') AS organization_id,
             count(DISTINCT actor_id)::bigint AS distinct_actors
        FROM "${source}"
       GROUP BY 1, 2`);
  await queryRunner.query(
    `CREATE UNIQUE INDEX "audit_stats_actors_daily_key" ON "audit_stats_actors_daily" (organization_id, day)`,
  );
}
