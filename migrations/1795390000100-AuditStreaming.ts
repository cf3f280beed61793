import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Streaming the trail to SIEMs and brokers (src/streaming):
 * - `audit_stream_destinations`: where to deliver (kind, format, non-secret settings, the secret sealed
 *   with the key-encryption key), for every organization (`organization_id` NULL, a platform operator's) or
 *   one; from when (`start_from`: a backfill starts in the past); its state and counters;
 * - `audit_stream_cursors`: per destination and organization chain, the last seal delivered. Seals are
 *   numbered per organization in commit order, so the cursor is durable, gapless and ordered;
 * - `audit_stream_dead_letters`: events a destination refused for good, kept for a replay.
 */
export class AuditStreaming1795390000100 implements MigrationInterface {
  name = 'AuditStreaming1795390000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "audit_stream_destinations" (
        "id"               uuid        NOT NULL,
        "name"             text        NOT NULL,
        "organization_id"  text,
        "kind"             text        NOT NULL,
        "format"           text        NOT NULL,
        "settings"         jsonb       NOT NULL DEFAULT '{}',
        "secret"           bytea,
        "personal_data"    text        NOT NULL DEFAULT 'encrypted',
        "start_from"       timestamptz NOT NULL DEFAULT now(),
        "batch_size"       integer     NOT NULL DEFAULT 500,
        "source"           text        NOT NULL DEFAULT 'api',
        "state"            text        NOT NULL DEFAULT 'active',
        "state_reason"     text,
        "created_by"       text,
        "created_at"       timestamptz NOT NULL DEFAULT now(),
        "updated_at"       timestamptz NOT NULL DEFAULT now(),
        "last_success_at"  timestamptz,
        "last_error"       text,
        "last_error_at"    timestamptz,
        "delivered_events" bigint      NOT NULL DEFAULT 0,
        "failed_attempts"  bigint      NOT NULL DEFAULT 0,
        CONSTRAINT "audit_stream_destinations_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "audit_stream_destinations_personal_check" CHECK ("personal_data" IN ('encrypted', 'clear')),
        CONSTRAINT "audit_stream_destinations_source_check" CHECK ("source" IN ('api', 'config')),
        CONSTRAINT "audit_stream_destinations_state_check" CHECK ("state" IN ('active', 'paused')),
        CONSTRAINT "audit_stream_destinations_batch_check" CHECK ("batch_size" BETWEEN 1 AND 10000)
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "audit_stream_destinations_name_key"
         ON "audit_stream_destinations" (coalesce("organization_id", ''), "name")`,
    );
    await queryRunner.query(`
      CREATE TABLE "audit_stream_cursors" (
        "destination_id" uuid        NOT NULL REFERENCES "audit_stream_destinations" ("id") ON DELETE CASCADE,
        "org_key"        text        NOT NULL,
        "seq"            bigint      NOT NULL,
        "updated_at"     timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "audit_stream_cursors_pkey" PRIMARY KEY ("destination_id", "org_key")
      )`);
    await queryRunner.query(`
      CREATE TABLE "audit_stream_dead_letters" (
        "id"               bigint      GENERATED ALWAYS AS IDENTITY,
        "destination_id"   uuid        NOT NULL REFERENCES "audit_stream_destinations" ("id") ON DELETE CASCADE,
        "event_id"         uuid        NOT NULL,
        "occurred_at"      timestamptz NOT NULL,
        "org_key"          text        NOT NULL,
        "seal_seq"         bigint      NOT NULL,
        "error"            text        NOT NULL,
        "status_code"      integer,
        "created_at"       timestamptz NOT NULL DEFAULT now(),
        "replay_requested_at" timestamptz,
        "replayed_at"      timestamptz,
        CONSTRAINT "audit_stream_dead_letters_pkey" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(
      `CREATE INDEX "audit_stream_dead_letters_destination_idx"
         ON "audit_stream_dead_letters" ("destination_id", "id") WHERE "replayed_at" IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_stream_dead_letters"`);
    await queryRunner.query(`DROP TABLE "audit_stream_cursors"`);
    await queryRunner.query(`DROP TABLE "audit_stream_destinations"`);
  }
}
