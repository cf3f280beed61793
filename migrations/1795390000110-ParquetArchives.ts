import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Archives may be Parquet (`ARCHIVE_FORMAT=parquet`): typed files per organization and month under the
 * archive's folder, listed in its manifest. `data_key` is then that folder, and `sha256` the digest of the
 * manifest's file list (archive-manifest.ts `filesDigest`).
 */
export class ParquetArchives1795390000110 implements MigrationInterface {
  name = 'ParquetArchives1795390000110';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "audit_archives"
        ADD COLUMN "format" text NOT NULL DEFAULT 'ndjson',
        ADD CONSTRAINT "audit_archives_format_check" CHECK ("format" IN ('ndjson', 'parquet'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Refused while Parquet archives exist: without the column they would pass for NDJSON files.
    await queryRunner.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM "audit_archives" WHERE "format" = 'parquet') THEN
          RAISE EXCEPTION 'Parquet archives exist: restore or expire them before reverting this migration';
        END IF;
      END $$`);
    await queryRunner.query(`ALTER TABLE "audit_archives" DROP COLUMN "format"`);
  }
}
