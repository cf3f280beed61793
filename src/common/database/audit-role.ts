import { Client } from 'pg';

/** What the application's role may do to each audit table: never UPDATE or DELETE an event, seal or checkpoint. */
const GRANTS: Array<[privileges: string, tables: string[]]> = [
  [
    'SELECT, INSERT',
    [
      'audit_events',
      'audit_seals',
      'audit_checkpoints',
      'audit_archived_leaves',
      'audit_subject_erasures',
      'audit_dead_letters',
      'audit_verifications',
    ],
  ],
  ['SELECT, INSERT, UPDATE', ['audit_chain_heads', 'audit_subject_keys']],
  ['SELECT, INSERT, DELETE', ['audit_seal_queue']],
  // Streaming: destinations are managed through the admin API, cursors move, dead letters are replayed.
  [
    'SELECT, INSERT, UPDATE, DELETE',
    ['audit_stream_destinations', 'audit_stream_cursors', 'audit_stream_dead_letters'],
  ],
  [
    'SELECT',
    ['audit_stats_daily', 'audit_stats_actors_daily', 'audit_stats_actors_recent', 'audit_stats_refreshes'],
  ],
];

export interface AuditRoleOptions {
  /** Role name. Roles are cluster-wide: give each database's application its own. Default `audit_app`. */
  role?: string;
  /** Schema holding the audit tables. Default `public`. */
  schema?: string;
  /** Role(s) to make members of it (the service's login role), so they get its privileges. */
  grantTo?: string[];
}

/**
 * The optional restricted role of an application that only writes and reads the trail: INSERT and SELECT on
 * events, seals and checkpoints (no UPDATE, DELETE or TRUNCATE: append-only by privilege, on top of the
 * triggers), what the writer needs on chain heads, the seal queue and subject keys, and read-only stats.
 * Needs CREATEROLE (or a superuser); idempotent. Partition maintenance, archives and erasure run as the
 * schema owner, not as this role.
 */
export async function createAuditRole(databaseUrl: string, options: AuditRoleOptions = {}): Promise<string> {
  const role = options.role ?? 'audit_app';
  const schema = options.schema ?? 'public';
  const client = new Client({ connectionString: databaseUrl, application_name: 'nest-audit-trail:create-role' });
  await client.connect();
  try {
    const ident = async (name: string) =>
      (await client.query<{ q: string }>('SELECT quote_ident($1) AS q', [name])).rows[0].q;
    const quotedRole = await ident(role);
    const quotedSchema = await ident(schema);
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (exists.rowCount === 0) await client.query(`CREATE ROLE ${quotedRole} NOLOGIN`);
    await client.query(`GRANT USAGE ON SCHEMA ${quotedSchema} TO ${quotedRole}`);
    for (const [privileges, tables] of GRANTS) {
      // One query at a time: pg deprecates queueing queries on one client (gone in pg 9).
      const quoted: string[] = [];
      for (const table of tables) quoted.push(`${quotedSchema}.${await ident(table)}`);
      const list = quoted.join(', ');
      await client.query(`GRANT ${privileges} ON ${list} TO ${quotedRole}`);
    }
    for (const member of options.grantTo ?? []) {
      await client.query(`GRANT ${quotedRole} TO ${await ident(member)}`);
    }
    return role;
  } finally {
    await client.end();
  }
}
