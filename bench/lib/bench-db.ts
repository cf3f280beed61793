import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { runMigrations } from '../../src/common/database/migrate';
// The migrations' own files, not the demo's DataSource options: those import the package by name, which
// outside Jest's module mapping resolves to the built dist/ (possibly stale).
import { AUDIT_MIGRATIONS } from '../../migrations';
import { DEMO_MIGRATIONS } from '../../demo/migrations';

/** An admin connection: benchmarks create and drop their own databases. */
export const BENCH_ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Every database a benchmark creates starts with this, so leftovers of a killed run are easy to find. */
export const BENCH_DB_PREFIX = 'audit_bench_';

export interface BenchDatabase {
  name: string;
  url: string;
  /** The migrations applied (recorded with results: the schema, e.g. its indexes, drives write throughput). */
  migrations: string[];
  /** One plain connection on the database, for resets, counts and raw COPY. */
  sql: Client;
  drop(): Promise<void>;
}

/**
 * A throwaway database with every migration applied, on the server of `adminUrl` (default BENCH_ADMIN_URL;
 * e.g. a benchmark's own server, see own-postgres.ts).
 */
export async function createBenchDatabase(adminUrl = BENCH_ADMIN_URL): Promise<BenchDatabase> {
  const name = `${BENCH_DB_PREFIX}${process.pid}_${randomBytes(3).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE "${name}"`));
  const url = databaseUrl(adminUrl, name);
  let migrations: string[];
  try {
    Logger.overrideLogger(['error', 'warn']);
    migrations = await runMigrations(url, { migrations: [...AUDIT_MIGRATIONS, ...DEMO_MIGRATIONS] });
  } catch (error) {
    await dropDatabase(adminUrl, name);
    throw error;
  }
  const sql = new Client({ connectionString: url, application_name: 'audit-bench' });
  await sql.connect();
  return {
    name,
    url,
    migrations,
    sql,
    drop: async () => {
      await sql.end().catch(() => undefined);
      await dropDatabase(adminUrl, name);
    },
  };
}

/** Runs `work` on a fresh database and drops it afterwards, also on failure or Ctrl-C. */
export async function withBenchDatabase<T>(
  work: (db: BenchDatabase) => Promise<T>,
  adminUrl = BENCH_ADMIN_URL,
): Promise<T> {
  const db = await createBenchDatabase(adminUrl);
  const onSignal = () => void db.drop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    return await work(db);
  } finally {
    process.off('SIGINT', onSignal);
    await db.drop();
  }
}

/**
 * Empties the audit table and its chains, and checkpoints, so each run starts from the same state (no dirty
 * pages owed). The tables are append-only: TRUNCATE goes through the lifecycle switch.
 */
export async function resetAuditEvents(sql: Client): Promise<void> {
  await sql.query('BEGIN');
  await sql.query(`SET LOCAL audit.lifecycle = 'on'`);
  await sql.query(
    'TRUNCATE audit_events, audit_seals, audit_chain_heads, audit_checkpoints, audit_seal_queue',
  );
  await sql.query('COMMIT');
  await sql.query('CHECKPOINT');
}

export async function countAuditEvents(sql: Client): Promise<number> {
  const { rows } = await sql.query<{ count: string }>('SELECT count(*) FROM audit_events');
  return Number(rows[0].count);
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

async function withAdmin<T>(adminUrl: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
