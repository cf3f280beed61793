import { writeFileSync } from 'node:fs';
import { Client } from 'pg';
import { runMigrations } from '../../src/common/database/migrate';
// The migrations' own files, not the demo's DataSource options: those import the package by name, which
// outside Jest's module mapping resolves to the built dist/ (possibly stale).
import { AUDIT_MIGRATIONS } from '../../migrations';
import { DEMO_MIGRATIONS } from '../../demo/migrations';
import { ensureChromium } from './browser';
import { databaseUrl, TEMPLATE_FILE, TEST_ADMIN_URL, TEST_DB_PREFIX } from './env';

/** Creates one migrated template database per run; each test file clones it (CREATE DATABASE ... TEMPLATE). */
export default async function globalSetup(): Promise<void> {
  const admin = new Client({ connectionString: TEST_ADMIN_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `Tests need Postgres at ${TEST_ADMIN_URL} (set TEST_DATABASE_URL): ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const template = `${TEST_DB_PREFIX}${process.pid}_${Date.now()}_tpl`;
  try {
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  await runMigrations(databaseUrl(template), { migrations: [...AUDIT_MIGRATIONS, ...DEMO_MIGRATIONS] });
  process.env.AUDIT_TEST_TEMPLATE = template;
  writeFileSync(TEMPLATE_FILE, template);
  ensureChromium();
}
