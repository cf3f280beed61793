import { createHash } from 'node:crypto';

/** Where the suite finds Postgres (an admin connection: it creates and drops its own databases). */
export const TEST_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';
/** Every database this suite creates starts with this prefix (and the run id), so runs never collide. */
export const TEST_DB_PREFIX = 'audit_test_';
/** Per checkout, so suites run from two work trees at once never pick up each other's template. */
export const TEMPLATE_FILE = `/tmp/nest-audit-trail-test-template-${createHash('sha1').update(process.cwd()).digest('hex').slice(0, 12)}`;

export function databaseUrl(name: string): string {
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
