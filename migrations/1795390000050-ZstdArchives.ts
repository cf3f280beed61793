import { MigrationInterface, QueryRunner } from 'typeorm';

/** Archives may be compressed with zstd (`ARCHIVE_COMPRESSION=zstd`, files `data.ndjson.zst`). */
export class ZstdArchives1795390000050 implements MigrationInterface {
  name = 'ZstdArchives1795390000050';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "audit_archives"
        DROP CONSTRAINT "audit_archives_compression_check",
        ADD CONSTRAINT "audit_archives_compression_check" CHECK ("compression" IN ('gzip', 'zstd', 'brotli'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Refused while zstd archives exist: their rows cannot be described by the older constraint.
    await queryRunner.query(`
      ALTER TABLE "audit_archives"
        DROP CONSTRAINT "audit_archives_compression_check",
        ADD CONSTRAINT "audit_archives_compression_check" CHECK ("compression" IN ('gzip', 'brotli'))`);
  }
}
