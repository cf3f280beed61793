import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { databaseUrl, TEMPLATE_FILE, TEST_ADMIN_URL } from './env';

export interface TestDatabase {
  name: string;
  url: string;
  /** A plain pg client on the test database, for assertions and for playing the saboteur. */
  sql: Client;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database for one test file, cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = process.env.AUDIT_TEST_TEMPLATE ?? readFileSync(TEMPLATE_FILE, 'utf8').trim();
  const name = `${template.replace(/_tpl$/, '')}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  const url = databaseUrl(name);
  const sql = new Client({ connectionString: url });
  await sql.connect();
  return {
    name,
    url,
    sql,
    drop: async () => {
      await sql.end().catch(() => undefined);
      await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
