import { Logger } from '@nestjs/common';
import { Client, escapeIdentifier } from 'pg';
import { DataSource, MigrationInterface } from 'typeorm';
import { AUDIT_MIGRATIONS } from '../../../migrations';

/** Arbitrary but fixed: every replica agrees on it, so only one runs migrations at a time. */
const MIGRATION_LOCK_KEY = 7_331_001;

/** Where the applied migrations are recorded; the 0.1 schema used this name, so upgrades find their history. */
export const AUDIT_MIGRATIONS_TABLE = 'schema_migrations';

export interface RunMigrationsOptions {
  /** Migrations to run: the audit schema's by default; an app may add its own (they sort by timestamp). */
  migrations?: Array<new () => MigrationInterface>;
  /** Table recording applied migrations. Default `schema_migrations`. */
  tableName?: string;
  logger?: Pick<Logger, 'log'>;
  /**
   * Postgres schema for the audit tables (created if missing), apart from the app's own. The app then puts
   * it first on its connections' search_path: `extra: { options: auditSearchPath('audit') }`.
   */
  schema?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The connection option that finds the audit tables in `schema` (then the app's own, in `public`). */
export function auditSearchPath(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`schema "${schema}" must be a lowercase SQL identifier (letters, digits, _)`);
  }
  return `-c search_path=${schema},public`;
}

/**
 * Runs pending migrations under a Postgres advisory lock, so replicas starting together do not race.
 * Returns the names applied.
 */
export async function runMigrations(url: string, options: RunMigrationsOptions = {}): Promise<string[]> {
  const searchPath = options.schema ? auditSearchPath(options.schema) : undefined;
  if (options.schema) await createSchema(url, options.schema);
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    schema: options.schema,
    migrations: options.migrations ?? AUDIT_MIGRATIONS,
    migrationsTableName: options.tableName ?? AUDIT_MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: 2, application_name: 'nest-audit-trail:migrate', options: searchPath },
  });
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) {
      (options.logger ?? new Logger('Migrations')).log(`Applied ${applied.map((m) => m.name).join(', ')}`);
    }
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
    await dataSource.destroy();
  }
}

async function createSchema(url: string, schema: string): Promise<void> {
  const client = new Client({ connectionString: url, application_name: 'nest-audit-trail:migrate' });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
  } finally {
    await client.end();
  }
}
