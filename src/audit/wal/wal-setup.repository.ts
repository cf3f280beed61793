import type { Pool, PoolClient } from 'pg';
import type { WalSlotState } from './wal-status';

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** A captured table, by name. */
export interface WalTableName {
  schema: string;
  table: string;
}
const qualified = (t: WalTableName) => `${quote(t.schema)}.${quote(t.table)}`;
/** Serializes set-up between processes starting together (any value, ours). */
const SETUP_LOCK = 0x6e617774; // 'nawt'

/** What a managed Postgres needs, for the start-up error. */
export const WAL_LEVEL_HELP =
  'wal capture needs wal_level=logical (self-hosted: ALTER SYSTEM SET wal_level = logical and restart; ' +
  'Amazon RDS / Aurora: rds.logical_replication = 1 in the parameter group; Google Cloud SQL: the ' +
  'cloudsql.logical_decoding flag; Azure: wal_level = logical in server parameters)';

/**
 * The database objects of the `wal` capture mode: the publication of the captured tables, REPLICA IDENTITY FULL
 * on each (the whole old row in the WAL, the before state), the session trigger (role and application name),
 * and the logical replication slot. Set up at start (idempotent, under an advisory lock), which needs a role
 * that owns the tables and may replicate; without those rights, an admin runs the same once with
 * `nest-audit-trail wal-setup --table <name...>`, and the app runs with `setup: false`.
 */
export class WalSetupRepository {
  constructor(private readonly pool: Pool) {}

  async walLevel(): Promise<string> {
    const { rows } = await this.pool.query<{ wal_level: string }>('SHOW wal_level');
    return rows[0].wal_level;
  }

  async ensure(publication: string, slot: string, tables: readonly WalTableName[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK]);
      try {
        await this.ensurePublication(client, publication, tables);
        for (const table of tables) await this.ensureTable(client, table);
        await this.ensureSlot(client, slot);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [SETUP_LOCK]);
      }
    } finally {
      client.release();
    }
  }

  private async ensurePublication(client: PoolClient, name: string, tables: readonly WalTableName[]) {
    const { rows } = await client.query<{ schemaname: string; tablename: string }>(
      `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`,
      [name],
    );
    const exists = (await client.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [name])).rowCount;
    const published = new Set(rows.map((r) => `${r.schemaname}.${r.tablename}`));
    const missing = tables.filter((t) => !published.has(`${t.schema}.${t.table}`)).map(qualified);
    if (!exists) await client.query(`CREATE PUBLICATION ${quote(name)} FOR TABLE ${missing.join(', ')}`);
    else if (missing.length)
      await client.query(`ALTER PUBLICATION ${quote(name)} ADD TABLE ${missing.join(', ')}`);
  }

  private async ensureTable(client: PoolClient, table: WalTableName) {
    const { rows } = await client.query<{ identity: string; has_trigger: boolean }>(
      `SELECT c.relreplident AS identity,
              EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'nest_audit_wal_session') AS has_trigger
         FROM pg_class c WHERE c.oid = $1::regclass`,
      [qualified(table)],
    );
    if (rows[0].identity !== 'f') await client.query(`ALTER TABLE ${qualified(table)} REPLICA IDENTITY FULL`);
    if (!rows[0].has_trigger)
      await client.query(
        `CREATE TRIGGER nest_audit_wal_session AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${qualified(table)}
           FOR EACH STATEMENT EXECUTE FUNCTION nest_audit_wal_session()`,
      );
  }

  private async ensureSlot(client: PoolClient, slot: string) {
    const { rowCount } = await client.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [
      slot,
    ]);
    if (!rowCount) await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  }

  /** The slot's position against the server's, for the lag metric and readiness. Null when there is no slot. */
  async slotState(slot: string): Promise<WalSlotState | null> {
    const { rows } = await this.pool.query<{
      active: boolean;
      wal_status: string | null;
      lag: string | null;
      retained: string | null;
      safe: string | null;
    }>(
      `SELECT active, wal_status,
              pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained,
              safe_wal_size::text AS safe
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      active: row.active,
      walStatus: row.wal_status,
      lagBytes: Math.max(0, Number(row.lag ?? 0)),
      retainedBytes: Math.max(0, Number(row.retained ?? 0)),
      safeBytes: row.safe === null ? null : Number(row.safe),
    };
  }
}

/**
 * What is wrong with the slot, for readiness and the log: missing, invalidated, keeping more WAL on the server
 * than `maxRetainedBytes` (its reader stopped or too slow: the disk fills), close to the server's
 * `max_slot_wal_keep_size`, or further behind than `maxLagBytes`. Null: fine.
 */
export function slotProblem(
  { slot, maxLagBytes, maxRetainedBytes }: { slot: string; maxLagBytes: number; maxRetainedBytes: number },
  state: WalSlotState | null,
): string | null {
  if (!state) return `slot ${slot} does not exist (set-up not run?)`;
  if (state.walStatus === 'lost')
    return `slot ${slot} was invalidated by the server (max_slot_wal_keep_size): changes since are lost to the trail`;
  if (state.retainedBytes > maxRetainedBytes)
    return `slot ${slot} keeps ${mib(state.retainedBytes)} of WAL on the server (limit ${mib(maxRetainedBytes)}): its reader is stopped or too slow, and the server's disk fills`;
  if (state.safeBytes !== null && state.safeBytes < maxRetainedBytes / 4)
    return `slot ${slot} is ${mib(state.safeBytes)} from being invalidated by max_slot_wal_keep_size`;
  if (state.lagBytes > maxLagBytes)
    return `slot ${slot} is ${mib(state.lagBytes)} behind (limit ${mib(maxLagBytes)})`;
  return null;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
