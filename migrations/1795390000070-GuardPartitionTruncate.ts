import { MigrationInterface, QueryRunner } from 'typeorm';

/** The name of the TRUNCATE guard on each partition (src/partitions/partition.repository.ts adds it to new ones). */
export const PARTITION_TRUNCATE_TRIGGER = 'audit_partition_no_truncate';

/**
 * TRUNCATE of a single partition (`TRUNCATE audit_events_2026_11`) is refused, like TRUNCATE of the parent.
 * The parent's BEFORE TRUNCATE statement trigger (1795390000021) is not cloned to partitions (only row
 * triggers are), so each partition gets its own: the existing hot ones, DEFAULT, the warm parent and its
 * partitions. The trigger belongs to the table, not to the parent: it stays through DETACH from the hot
 * parent and ATTACH to the warm one. DETACH and DROP of whole partitions (archival) fire no TRUNCATE
 * trigger and stay the lifecycle path. Needs only table ownership: no event trigger, no superuser.
 */
export class GuardPartitionTruncate1795390000070 implements MigrationInterface {
  name = 'GuardPartitionTruncate1795390000070';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DO $$
      DECLARE tbl regclass;
      BEGIN
        FOR tbl IN
          SELECT 'audit_events_warm'::regclass
          UNION
          SELECT i.inhrelid::regclass FROM pg_inherits i
           WHERE i.inhparent IN ('audit_events'::regclass, 'audit_events_warm'::regclass)
        LOOP
          IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = tbl AND t.tgname = '${PARTITION_TRUNCATE_TRIGGER}') THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION "audit_append_only"()',
                           '${PARTITION_TRUNCATE_TRIGGER}', tbl);
          END IF;
        END LOOP;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DO $$
      DECLARE tbl regclass;
      BEGIN
        FOR tbl IN SELECT t.tgrelid::regclass FROM pg_trigger t WHERE t.tgname = '${PARTITION_TRUNCATE_TRIGGER}' LOOP
          EXECUTE format('DROP TRIGGER %I ON %s', '${PARTITION_TRUNCATE_TRIGGER}', tbl);
        END LOOP;
      END $$`);
  }
}
