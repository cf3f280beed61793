import { MigrationInterface, QueryRunner } from 'typeorm';
import { copyGrants } from './1795390000080-StatsActorsRecent';

/**
 * `audit_verifications`: the result of every verification run through the admin API
 * (`GET <admin>/integrity/verify`), one row per organization chain it covered, plus one row with a null
 * `organization_id` for a run over every chain (audit:read:all without an organization). The integrity
 * status (`GET <admin>/integrity/status`) reads an organization's latest row. `organization_id` '' is the
 * chain of events without an organization. `first_broken` is `{kind, id, reason, organizationId}`.
 *
 * Append-only by privilege: the roles that may write events (INSERT on `audit_events`: the app role) get
 * INSERT and SELECT here, nothing else.
 */
export class AuditVerifications1795390000081 implements MigrationInterface {
  name = 'AuditVerifications1795390000081';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "audit_verifications" (
        "id"              bigint      GENERATED ALWAYS AS IDENTITY,
        "organization_id" text,
        "started_at"      timestamptz NOT NULL,
        "finished_at"     timestamptz NOT NULL,
        "ok"              boolean     NOT NULL,
        "checked_events"  bigint      NOT NULL,
        "first_broken"    jsonb,
        "range_from"      timestamptz,
        "range_to"        timestamptz,
        "trigger"         text        NOT NULL DEFAULT 'api',
        "actor_id"        text,
        CONSTRAINT "audit_verifications_pkey" PRIMARY KEY ("id")
      )`);
    // An organization's latest row: `organization_id = $1` (or IS NULL) ORDER BY id DESC LIMIT 1.
    await queryRunner.query(
      `CREATE INDEX "audit_verifications_org_idx" ON "audit_verifications" ("organization_id", "id")`,
    );
    await copyGrants(queryRunner, 'audit_events', 'INSERT', 'audit_verifications', 'SELECT, INSERT');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_verifications"`);
  }
}
