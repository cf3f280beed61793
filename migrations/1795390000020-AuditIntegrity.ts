import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tamper evidence (src/integrity/README section in the top README):
 * - every event carries `event_hash` (SHA-256 of its canonical form, computed by the writer) and
 *   `batch_id`, the write transaction that stored it. `batch_id` defaults to the transaction's
 *   `audit.batch_id` setting, so a COPY fills it without the line carrying it;
 * - `audit_seals`: one seal per (organization, batch): Merkle root of the batch's event hashes for that
 *   organization, chained to the organization's previous seal, written in the batch's transaction;
 * - `audit_chain_heads`: the latest seal of each organization's chain; its row lock orders concurrent
 *   batches of one organization (held only from the end of the COPY to COMMIT);
 * - `audit_seal_queue`: seals of single events captured inside an application transaction
 *   (transactional capture), chained later by the integrity job so that no application transaction
 *   waits on the chain lock;
 * - `audit_checkpoints`: signed (Ed25519) statements of a chain head, made by the checkpoint job.
 */
export class AuditIntegrity1795390000020 implements MigrationInterface {
  name = 'AuditIntegrity1795390000020';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "audit_events"
        ADD COLUMN "event_hash" bytea,
        ADD COLUMN "batch_id" uuid DEFAULT nullif(current_setting('audit.batch_id', true), '')::uuid`);

    await queryRunner.query(`
      CREATE TABLE "audit_seals" (
        "org_key"     text        NOT NULL,
        "seq"         bigint      NOT NULL,
        "batch_id"    uuid        NOT NULL,
        "event_count" integer     NOT NULL,
        "first_at"    timestamptz NOT NULL,
        "last_at"     timestamptz NOT NULL,
        "merkle_root" bytea       NOT NULL,
        "prev_hash"   bytea       NOT NULL,
        "seal_hash"   bytea       NOT NULL,
        "sealed_at"   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "audit_seals_pkey" PRIMARY KEY ("org_key", "seq"),
        CONSTRAINT "audit_seals_batch_key" UNIQUE ("org_key", "batch_id")
      )`);
    await queryRunner.query(
      `CREATE INDEX "audit_seals_range_idx" ON "audit_seals" ("org_key", "last_at", "first_at")`,
    );
    await queryRunner.query(`
      CREATE TABLE "audit_chain_heads" (
        "org_key"    text        NOT NULL,
        "seq"        bigint      NOT NULL,
        "seal_hash"  bytea       NOT NULL,
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "audit_chain_heads_pkey" PRIMARY KEY ("org_key")
      )`);
    await queryRunner.query(`
      CREATE TABLE "audit_seal_queue" (
        "org_key"     text        NOT NULL,
        "batch_id"    uuid        NOT NULL,
        "event_count" integer     NOT NULL,
        "first_at"    timestamptz NOT NULL,
        "last_at"     timestamptz NOT NULL,
        "merkle_root" bytea       NOT NULL,
        "queued_at"   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "audit_seal_queue_pkey" PRIMARY KEY ("org_key", "batch_id")
      )`);
    await queryRunner.query(`
      CREATE TABLE "audit_checkpoints" (
        "id"        bigint      GENERATED ALWAYS AS IDENTITY,
        "org_key"   text        NOT NULL,
        "seq"       bigint      NOT NULL,
        "seal_hash" bytea       NOT NULL,
        "signed_at" timestamptz NOT NULL,
        "key_id"    text        NOT NULL,
        "signature" bytea       NOT NULL,
        CONSTRAINT "audit_checkpoints_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "audit_checkpoints_org_seq_key" UNIQUE ("org_key", "seq")
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_checkpoints"`);
    await queryRunner.query(`DROP TABLE "audit_seal_queue"`);
    await queryRunner.query(`DROP TABLE "audit_chain_heads"`);
    await queryRunner.query(`DROP TABLE "audit_seals"`);
    await queryRunner.query(`ALTER TABLE "audit_events" DROP COLUMN "batch_id", DROP COLUMN "event_hash"`);
  }
}
