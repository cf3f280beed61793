import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `audit_archived_leaves`: the hashes of the events of write batches that cross a partition boundary,
 * kept when their partition goes cold. A batch's seal is a Merkle root over all its events: the archive of
 * the neighbouring month needs the hashes of the events left in this one (its `outsideLeaves`), and once
 * this month is dropped the database has them only here. Hashes and ids only (no personal data); one
 * batch per organization and boundary, so the table stays small.
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
    await queryRunner.query(`GRANT SELECT, INSERT ON "audit_archived_leaves" TO "audit_app"`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_archived_leaves"`);
  }
}
