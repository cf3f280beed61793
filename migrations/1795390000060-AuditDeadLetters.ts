import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events Postgres refused for their data (a value a check or type rejects), each isolated from its batch so
 * the rest of the batch commits. The row keeps what an operator needs to inspect and replay it: the event's
 * id and time, the SQLSTATE and error (object names only, never the data), and the COPY line exactly as the
 * writer encoded it (already redacted, personal data already encrypted: its subject keys are stored with it).
 * Keyed by the event id: a batch replayed after a crash dead-letters the same event once.
 */
export class AuditDeadLetters1795390000060 implements MigrationInterface {
  name = 'AuditDeadLetters1795390000060';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "audit_dead_letters" (
        "event_id"         uuid        NOT NULL,
        "occurred_at"      timestamptz NOT NULL,
        "sqlstate"         text        NOT NULL,
        "error"            text        NOT NULL,
        "line"             text        NOT NULL,
        "dead_lettered_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "audit_dead_letters_pkey" PRIMARY KEY ("event_id")
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_dead_letters"`);
  }
}
