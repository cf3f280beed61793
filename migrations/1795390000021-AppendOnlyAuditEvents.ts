import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Append-only in the database, for every role (the owner and superusers included):
 * - a BEFORE UPDATE OR DELETE row trigger on `audit_events`, declared on the partitioned parent so that
 *   every partition, present or created later, gets a clone of it (Postgres >= 13). It lets a row change
 *   through only when the transaction did `SET LOCAL audit.lifecycle = 'on'`: the partition job's move
 *   of stray rows out of the DEFAULT partition. DETACH/DROP of whole partitions fire no row trigger and
 *   stay the lifecycle path. The same trigger protects the seals and checkpoints;
 * - a BEFORE TRUNCATE statement trigger on the parent and on the seals/checkpoints;
 *
 * The restricted application role is not made here (roles are cluster-wide and need CREATEROLE): it is the
 * optional `nest-audit-trail create-role` step (src/common/database/audit-role.ts).
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
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['audit_events', 'audit_seals', 'audit_checkpoints']) {
      await queryRunner.query(`DROP TRIGGER "${table}_no_truncate" ON "${table}"`);
      await queryRunner.query(`DROP TRIGGER "${table}_append_only" ON "${table}"`);
    }
    await queryRunner.query(`DROP FUNCTION "audit_append_only"()`);
  }
}
