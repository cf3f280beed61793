import { TestDatabase } from './test-db';

/**
 * Waits until no advisory lock is held in this test database: the boot-time partition jobs are done. A test
 * that drops or renames partitions while they run would deadlock with their CREATE INDEX CONCURRENTLY.
 */
export async function waitForMaintenanceIdle(db: TestDatabase, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // pg_locks spans the whole cluster (other test files, benchmarks): only this database's locks matter.
    const { rows } = await db.sql.query(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('partition maintenance still running');
}
