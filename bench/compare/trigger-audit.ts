import { Client } from 'pg';

const TRIGGER = 'bench_trigger_audit';

/**
 * Variant (b), the trigger-based audit as supa_audit and the classic audit-trigger do it: an AFTER row trigger
 * on accounts writes the old and new row as jsonb into a plain table, with supa_audit's indexes (record ids,
 * table, BRIN on time). A baseline of this benchmark only, not a product feature. Created disabled: only the
 * runs of (b) switch it on, so the other variants do not pay for it.
 */
const SETUP_SQL = `
  CREATE TABLE bench_trigger_audit (
    id            bigserial   NOT NULL,
    op            text        NOT NULL,
    table_oid     oid         NOT NULL,
    table_schema  name        NOT NULL,
    table_name    name        NOT NULL,
    record_id     uuid,
    old_record_id uuid,
    record        jsonb,
    old_record    jsonb,
    ts            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bench_trigger_audit_pkey PRIMARY KEY (id)
  );
  CREATE INDEX bench_trigger_audit_ts_idx ON bench_trigger_audit USING brin (ts);
  CREATE INDEX bench_trigger_audit_table_oid_idx ON bench_trigger_audit (table_oid);
  CREATE INDEX bench_trigger_audit_record_id_idx ON bench_trigger_audit (record_id) WHERE record_id IS NOT NULL;
  CREATE INDEX bench_trigger_audit_old_record_id_idx ON bench_trigger_audit (old_record_id)
    WHERE old_record_id IS NOT NULL;

  -- NEW is null in DELETE triggers and OLD in INSERT triggers (Postgres 11+), so to_jsonb gives null there.
  CREATE FUNCTION bench_trigger_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb := to_jsonb(OLD);
  BEGIN
    INSERT INTO bench_trigger_audit
      (op, table_oid, table_schema, table_name, record_id, old_record_id, record, old_record)
    VALUES (TG_OP, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME,
      (new_row ->> 'id')::uuid, (old_row ->> 'id')::uuid, new_row, old_row);
    RETURN NULL;
  END $$;

  CREATE TRIGGER ${TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION bench_trigger_audit_row();
  ALTER TABLE accounts DISABLE TRIGGER ${TRIGGER};
`;

export async function installTriggerAudit(sql: Client): Promise<void> {
  await sql.query(SETUP_SQL);
}

/** Switches the trigger on or off (between runs: ALTER TABLE waits for the statements on accounts to end). */
export async function setTriggerAudit(sql: Client, enabled: boolean): Promise<void> {
  await sql.query(`ALTER TABLE accounts ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER ${TRIGGER}`);
}

/** What a run left in both audit tables: the sanity check that each variant recorded what it was sent. */
export interface AuditRows {
  /** Rows of the trigger table (one per inserted, updated or deleted account). */
  trigger: number;
  /** audit_events rows of mutations (create, update, delete), reads (read, list), and failures among them. */
  eventMutations: number;
  eventReads: number;
  eventFailures: number;
}

export async function countAuditRows(sql: Client): Promise<AuditRows> {
  const { rows } = await sql.query<Record<keyof AuditRows, string>>(`
    SELECT (SELECT count(*) FROM bench_trigger_audit) AS trigger,
           count(*) FILTER (WHERE action IN ('create', 'update', 'delete')) AS "eventMutations",
           count(*) FILTER (WHERE action IN ('read', 'list')) AS "eventReads",
           count(*) FILTER (WHERE status = 'failure') AS "eventFailures"
      FROM audit_events`);
  const row = rows[0];
  return {
    trigger: Number(row.trigger),
    eventMutations: Number(row.eventMutations),
    eventReads: Number(row.eventReads),
    eventFailures: Number(row.eventFailures),
  };
}

export function subtractRows(after: AuditRows, before: AuditRows): AuditRows {
  return {
    trigger: after.trigger - before.trigger,
    eventMutations: after.eventMutations - before.eventMutations,
    eventReads: after.eventReads - before.eventReads,
    eventFailures: after.eventFailures - before.eventFailures,
  };
}

export async function truncateTriggerAudit(sql: Client): Promise<void> {
  await sql.query('TRUNCATE bench_trigger_audit');
}
