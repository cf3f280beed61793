import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail: one parent table range-partitioned by event time (monthly), a DEFAULT partition as a
 * safety net, and the current month plus three ahead. Later months are created by the partition job.
 * Indexes are declared on the parent so every partition gets them.
 */
export class CreateAuditEvents1795390000000 implements MigrationInterface {
  name = 'CreateAuditEvents1795390000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_events (
        id              uuid        NOT NULL,
        occurred_at     timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        organization_id text,
        actor_id        text,
        actor_type      text        NOT NULL,
        action          text        NOT NULL,
        event_type      text        NOT NULL,
        resource_type   text,
        resource_id     text,
        before          jsonb,
        after           jsonb,
        changes         jsonb,
        status          text        NOT NULL,
        status_code     smallint,
        error_message   text,
        severity        text        NOT NULL,
        request_id      text,
        ip              inet,
        user_agent      text,
        route           text,
        method          text,
        duration_ms     integer,
        metadata        jsonb,
        CONSTRAINT audit_events_pkey PRIMARY KEY (occurred_at, id),
        CONSTRAINT audit_events_status_check CHECK (status IN ('success', 'failure')),
        CONSTRAINT audit_events_severity_check CHECK (severity IN ('info', 'notice', 'warning', 'critical')),
        CONSTRAINT audit_events_actor_type_check CHECK (actor_type IN ('user', 'service', 'system', 'anonymous'))
      ) PARTITION BY RANGE (occurred_at)`);

    await queryRunner.query(`CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT`);

    await queryRunner.query(`
      DO $$
      DECLARE
        month_start timestamptz;
      BEGIN
        FOR i IN 0..3 LOOP
          month_start := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(months => i);
          EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
            'audit_events_p' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM'),
            month_start,
            month_start + interval '1 month');
        END LOOP;
      END $$`);

    // The admin queries: an organization's recent events, an actor's activity, a resource's history,
    // one event type over time, and the (rare) critical events.
    await queryRunner.query(
      `CREATE INDEX audit_events_org_time_idx ON audit_events (organization_id, occurred_at DESC, id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_events_actor_time_idx ON audit_events (actor_id, occurred_at DESC, id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_events_resource_idx ON audit_events (resource_type, resource_id, occurred_at, id)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_events_event_type_idx ON audit_events (event_type, occurred_at DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_events_critical_idx ON audit_events (occurred_at DESC) WHERE severity = 'critical'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_events CASCADE`);
  }
}
