import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `audit_archived_leaves`: the hashes of the events of write batches that cross a partition boundary,
 * kept when their partition goes cold. A batch's seal is a Merkle root over all its events: the archive of
 * the neighbouring month needs the hashes of the events left in this one (its `outsideLeaves`), and once
 * this month is dropped the database has them only here. Hashes and ids only (no personal data); one
 * batch per organization and boundary, so the table stays small.
 *
 * Also gives the warm parent `audit_events_warm` the integrity columns (it was created before they existed,
 * and the archive job adds missing columns only when it next warms a partition): verification reads warm
 * events' hashes through it.
 */
export class ArchivedBoundaryLeaves1795390000030 implements MigrationInterface {
  name = 'ArchivedBoundaryLeaves1795390000030';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "audit_archived_leaves" (
        "org_key"     text        NOT NULL,
        "batch_id"    uuid        NOT NULL,
        "id"          uuid        NOT NULL,
        "occurred_at" timestamptz NOT NULL,
        "event_hash"  bytea       NOT NULL,
        CONSTRAINT "audit_archived_leaves_pkey" PRIMARY KEY ("org_key", "batch_id", "id")
      )`);
    await queryRunner.query(
      `ALTER TABLE "audit_events_warm" ADD COLUMN IF NOT EXISTS "event_hash" bytea, ADD COLUMN IF NOT EXISTS "batch_id" uuid`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The warm parent keeps its columns: dropping them would drop them from every warm partition.
    await queryRunner.query(`DROP TABLE "audit_archived_leaves"`);
  }
}
