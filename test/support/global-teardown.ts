import { Client } from 'pg';
import { TEST_ADMIN_URL } from './env';

/** Drops the template and every database this run created. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env.AUDIT_TEST_TEMPLATE;
  if (!template) return;
  const runPrefix = template.replace(/_tpl$/, '');
  const admin = new Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
      [runPrefix],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
