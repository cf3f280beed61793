import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Crypto-shredding of personal data (src/audit/personal-data): the per-subject data keys, wrapped with the
 * key-encryption key from configuration, and the erasures. Erasing a subject nulls its wrapped keys; the
 * events keep their ciphertext (their hashes cover it), which no one can read any more.
 *
 * Not append-only, by design: erasure must be able to destroy a key. The application role may insert keys
 * and null them, never delete the rows (an erased key's row stays as the record that it existed).
 */
export class PersonalDataKeys1795390000040 implements MigrationInterface {
  name = 'PersonalDataKeys1795390000040';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "audit_subject_keys" (
        "id"              uuid        PRIMARY KEY,
        "organization_id" text,
        "subject_id"      text        NOT NULL,
        "kek_id"          text        NOT NULL,
        "wrapped_key"     bytea,
        "created_at"      timestamptz NOT NULL,
        "stored_at"       timestamptz NOT NULL DEFAULT now(),
        "erased_at"       timestamptz,
        CONSTRAINT "audit_subject_keys_erased_check" CHECK (("wrapped_key" IS NULL) = ("erased_at" IS NOT NULL))
      )`);
    await queryRunner.query(
      `CREATE INDEX "audit_subject_keys_subject_idx" ON "audit_subject_keys" ("subject_id", "organization_id")`,
    );
    await queryRunner.query(`
      CREATE TABLE "audit_subject_erasures" (
        "id"              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        "organization_id" text,
        "subject_id"      text        NOT NULL,
        "erased_at"       timestamptz NOT NULL DEFAULT now(),
        "erased_by"       text,
        "keys_destroyed"  integer     NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX "audit_subject_erasures_subject_idx" ON "audit_subject_erasures" ("subject_id", "organization_id", "erased_at")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_subject_erasures"`);
    await queryRunner.query(`DROP TABLE "audit_subject_keys"`);
  }
}
