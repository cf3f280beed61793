import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `wal` capture mode: actor type `database` (a committed change no application request claimed), and the
 * statement trigger function that tells the slot consumer which role and application made a transaction's
 * changes. It emits one transactional logical message per transaction (a transaction-local setting remembers
 * it did), whatever the number of statements and rows: the row data itself comes from the WAL, not from here.
 * The triggers on the captured tables are created by AuditWalModule's set-up.
 */
export class WalCapture1795390000120 implements MigrationInterface {
  name = 'WalCapture1795390000120';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "audit_events"
        DROP CONSTRAINT "audit_events_actor_type_check",
        ADD CONSTRAINT "audit_events_actor_type_check"
          CHECK (actor_type IN ('user', 'service', 'system', 'anonymous', 'database'))`);
    await queryRunner.query(`
      CREATE FUNCTION nest_audit_wal_session() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF coalesce(current_setting('nest_audit.wal_session', true), '') = '' THEN
          PERFORM pg_logical_emit_message(true, 'nest_audit.session', json_build_object(
            'role', session_user, 'currentRole', current_user,
            'application', current_setting('application_name'))::text);
          PERFORM set_config('nest_audit.wal_session', '1', true);
        END IF;
        RETURN NULL;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION IF EXISTS nest_audit_wal_session() CASCADE`);
    await queryRunner.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM "audit_events" WHERE actor_type = 'database') THEN
          RAISE EXCEPTION 'events of actor type database exist: the constraint cannot be narrowed';
        END IF;
      END $$`);
    await queryRunner.query(`
      ALTER TABLE "audit_events"
        DROP CONSTRAINT "audit_events_actor_type_check",
        ADD CONSTRAINT "audit_events_actor_type_check"
          CHECK (actor_type IN ('user', 'service', 'system', 'anonymous'))`);
  }
}
