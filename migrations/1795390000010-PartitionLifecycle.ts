import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The partition lifecycle (hot -> warm -> cold -> expired):
 * - `audit_events_warm`: a second range-partitioned parent with the columns of `audit_events`. A partition
 *   past the hot window is detached from `audit_events` and attached here: the capture path never sees it
 *   again (writers only know `audit_events`), yet it stays one table scan away. It declares no indexes:
 *   a detached partition keeps its own (primary key, admin indexes, full-text index), the planner uses
 *   them through this parent too, and nothing is rebuilt on attach.
 * - `audit_events_all`: the admin API reads through this view (hot + warm). A UNION ALL of two plain
 *   relations is flattened by the planner into one append, so partition pruning and ordered index scans
 *   work as on `audit_events` alone.
 * - `audit_archives`: one row per cold archive with its state (exporting -> exported -> cold -> expired),
 *   so an archive run interrupted at any step is resumed by the next one.
 * - `audit_lifecycle_runs`: every run of maintenance, archival and restore (what, when, dry run, outcome).
 */
export class PartitionLifecycle1795390000010 implements MigrationInterface {
  name = 'PartitionLifecycle1795390000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_events_warm" (LIKE "audit_events" INCLUDING DEFAULTS) PARTITION BY RANGE ("occurred_at")`,
    );
    await queryRunner.query(
      `CREATE VIEW "audit_events_all" AS SELECT * FROM "audit_events" UNION ALL SELECT * FROM "audit_events_warm"`,
    );
    await queryRunner.query(`
      CREATE TABLE "audit_archives" (
        "id"              uuid        NOT NULL DEFAULT gen_random_uuid(),
        "partition_name"  text        NOT NULL,
        "range_from"      timestamptz NOT NULL,
        "range_to"        timestamptz NOT NULL,
        "state"           text        NOT NULL,
        "storage_url"     text        NOT NULL,
        "data_key"        text        NOT NULL,
        "manifest_key"    text        NOT NULL,
        "compression"     text        NOT NULL,
        "row_count"       bigint,
        "byte_size"       bigint,
        "sha256"          text,
        "table_bytes"     bigint,
        "created_at"      timestamptz NOT NULL DEFAULT now(),
        "exported_at"     timestamptz,
        "dropped_at"      timestamptz,
        "expired_at"      timestamptz,
        CONSTRAINT "audit_archives_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "audit_archives_state_check" CHECK ("state" IN ('exporting', 'exported', 'cold', 'expired')),
        CONSTRAINT "audit_archives_compression_check" CHECK ("compression" IN ('gzip', 'brotli'))
      )`);
    // At most one unfinished archive per partition: two runs can never export the same table twice. A
    // month archived earlier may get a second archive later (back-dated events moved out of DEFAULT).
    await queryRunner.query(
      `CREATE UNIQUE INDEX "audit_archives_open_partition_key" ON "audit_archives" ("partition_name") WHERE "state" IN ('exporting', 'exported')`,
    );
    await queryRunner.query(
      `CREATE INDEX "audit_archives_range_idx" ON "audit_archives" ("range_to", "state")`,
    );
    await queryRunner.query(`
      CREATE TABLE "audit_lifecycle_runs" (
        "id"          bigint      GENERATED ALWAYS AS IDENTITY,
        "job"         text        NOT NULL,
        "dry_run"     boolean     NOT NULL,
        "started_at"  timestamptz NOT NULL,
        "finished_at" timestamptz NOT NULL,
        "outcome"     text        NOT NULL,
        "actions"     jsonb       NOT NULL,
        "error"       text,
        CONSTRAINT "audit_lifecycle_runs_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "audit_lifecycle_runs_outcome_check" CHECK ("outcome" IN ('success', 'failure', 'skipped'))
      )`);
    await queryRunner.query(
      `CREATE INDEX "audit_lifecycle_runs_job_idx" ON "audit_lifecycle_runs" ("job", "started_at" DESC)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_lifecycle_runs"`);
    await queryRunner.query(`DROP TABLE "audit_archives"`);
    await queryRunner.query(`DROP VIEW "audit_events_all"`);
    // Warm partitions go back under audit_events so down() never loses events.
    await queryRunner.query(`
      DO $$
      DECLARE part record;
      BEGIN
        FOR part IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i
                      JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '"audit_events_warm"'::regclass LOOP
          EXECUTE format('ALTER TABLE "audit_events_warm" DETACH PARTITION %I', part.relname);
          EXECUTE format('ALTER TABLE "audit_events" ATTACH PARTITION %I %s', part.relname, part.bound);
        END LOOP;
      END $$`);
    await queryRunner.query(`DROP TABLE "audit_events_warm"`);
  }
}
