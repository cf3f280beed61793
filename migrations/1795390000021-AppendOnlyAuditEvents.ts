import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Append-only in the database, for every role (the owner and superusers included):
 * - a BEFORE UPDATE OR DELETE row trigger on `audit_events`, declared on the partitioned parent so that
 *   every partition, present or created later, gets a clone of it (Postgres >= 13). It lets a row change
 *   through only when the transaction did `SET LOCAL audit.lifecycle = 'on'`: the partition job's move
 *   of stray rows out of the DEFAULT partition. DETACH/DROP of whole partitions fire no row trigger and
 *   stay the lifecycle path. The same trigger protects the seals and checkpoints;
 * - a BEFORE TRUNCATE statement trigger on the parent and on the seals/checkpoints;
 * - `audit_app`, a NOLOGIN group role for the application: INSERT and SELECT on events, seals and
 *   checkpoints, what the writer needs on the chain heads and queue, the demo tables, read-only stats.
 *   Deployments grant it to the service's login role (README, "Append-only").
 */
export class AppendOnlyAuditEvents1795390000021 implements MigrationInterface {
  name = 'AppendOnlyAuditEvents1795390000021';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "audit_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('audit.lifecycle', true) = 'on' THEN
          RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Lifecycle maintenance sets audit.lifecycle = on in its own transaction.';
      END $$`);
    for (const table of ['audit_events', 'audit_seals', 'audit_checkpoints']) {
      await queryRunner.query(
        `CREATE TRIGGER "${table}_append_only" BEFORE UPDATE OR DELETE ON "${table}"
           FOR EACH ROW EXECUTE FUNCTION "audit_append_only"()`,
      );
      await queryRunner.query(
        `CREATE TRIGGER "${table}_no_truncate" BEFORE TRUNCATE ON "${table}"
           FOR EACH STATEMENT EXECUTE FUNCTION "audit_append_only"()`,
      );
    }

    // Roles are cluster-wide: another database of the cluster may have created it already.
    await queryRunner.query(`
      DO $$
      BEGIN
        CREATE ROLE "audit_app" NOLOGIN;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$`);
    await queryRunner.query(
      `GRANT SELECT, INSERT ON "audit_events", "audit_seals", "audit_checkpoints" TO "audit_app"`,
    );
    await queryRunner.query(`GRANT SELECT, INSERT, UPDATE ON "audit_chain_heads" TO "audit_app"`);
    await queryRunner.query(`GRANT SELECT, INSERT, DELETE ON "audit_seal_queue" TO "audit_app"`);
    await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON "accounts" TO "audit_app"`);
    await queryRunner.query(
      `GRANT SELECT ON "audit_stats_daily", "audit_stats_actors_daily", "audit_stats_refreshes", "schema_migrations" TO "audit_app"`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `REVOKE ALL ON "audit_events", "audit_seals", "audit_checkpoints", "audit_chain_heads", "audit_seal_queue",
         "accounts", "audit_stats_daily", "audit_stats_actors_daily", "audit_stats_refreshes", "schema_migrations" FROM "audit_app"`,
    );
    for (const table of ['audit_events', 'audit_seals', 'audit_checkpoints']) {
      await queryRunner.query(`DROP TRIGGER "${table}_no_truncate" ON "${table}"`);
      await queryRunner.query(`DROP TRIGGER "${table}_append_only" ON "${table}"`);
    }
    await queryRunner.query(`DROP FUNCTION "audit_append_only"()`);
    // The role is left in place: other databases of the cluster may still use it.
  }
}
