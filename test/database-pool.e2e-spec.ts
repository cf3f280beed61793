import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp } from './support/test-app';

const PARALLEL = 8;

/**
 * The most connections the app's own pool holds at once while PARALLEL queries that each take 300 ms are
 * issued together (the pool queues what it cannot run).
 */
async function busiestPool(db: TestDatabase, env: Record<string, string>): Promise<number> {
  const app = await startTestApp(db.url, { AUDIT_DISABLED: 'true', ...env });
  try {
    const dataSource = app.get(DataSource);
    const queries = Promise.all(
      Array.from({ length: PARALLEL }, () => dataSource.query('SELECT pg_sleep(0.3)')),
    );
    let busiest = 0;
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { rows } = await db.sql.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'nest-audit-trail'
            AND query = 'SELECT pg_sleep(0.3)' AND state = 'active'`,
      );
      busiest = Math.max(busiest, Number(rows[0].n));
    }
    await queries;
    return busiest;
  } finally {
    await app.close();
  }
}

describe('DATABASE_POOL_MAX', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("caps the app's own pool; the default pool runs the same queries all at once", async () => {
    expect(await busiestPool(db, { DATABASE_POOL_MAX: '2' })).toBe(2);
    expect(await busiestPool(db, {})).toBe(PARALLEL);
  });
});
