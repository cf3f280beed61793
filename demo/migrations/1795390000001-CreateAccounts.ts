import { MigrationInterface, QueryRunner } from 'typeorm';

/** The demo domain: tenant-scoped accounts. */
export class CreateAccounts1795390000001 implements MigrationInterface {
  name = 'CreateAccounts1795390000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE accounts (
        id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
        organization_id     text        NOT NULL,
        name                text        NOT NULL,
        email               text        NOT NULL,
        plan                text        NOT NULL,
        password_hash       text        NOT NULL,
        password_updated_at timestamptz NOT NULL DEFAULT now(),
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounts_pkey PRIMARY KEY (id)
      )`);
    await queryRunner.query(
      `CREATE INDEX accounts_organization_created_idx ON accounts (organization_id, created_at DESC, id DESC)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE accounts`);
  }
}
