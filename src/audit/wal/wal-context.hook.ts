import type { DataSource, EntityMetadata, QueryRunner } from 'typeorm';
import { reasonContext } from '../reason';
import { contextLiteral, WAL_CONTEXT_PREFIX, walCapture, WalContext } from './wal-context';

type Query = QueryRunner['query'];
const HOOKED = Symbol('nest-audit-trail:wal-hook');
/** A write TypeORM runs without a transaction of its own (`update()`, `delete()`, `insert()`, `query()`). */
const WRITE = /^\s*(?:WITH\b[\s\S]*\b)?(?:INSERT|UPDATE|DELETE|MERGE)\b/i;

/** The tables AuditWalModule captures in this process (`schema.table`); empty until it has started. */
const captured = new Set<string>();

/** An entity's table as `[schema, table]` (no schema in the metadata: the entity's, else public). */
export function tableNameOf(metadata: EntityMetadata): [string, string] {
  const path = metadata.tablePath;
  return path.includes('.') ? (path.split('.', 2) as [string, string]) : [metadata.schema ?? 'public', path];
}

export function registerCapturedTables(keys: Iterable<string>): void {
  for (const key of keys) captured.add(key);
}

/**
 * Whether a `wal` route's entity is captured: false when AuditWalModule runs here and does not list it (its
 * changes would then never be recorded), true when it lists it or is not known in this process.
 */
export function isCapturedTable(schema: string, table: string): boolean {
  return captured.size === 0 || captured.has(`${schema}.${table}`);
}

/**
 * Puts the request's context into the transactions its handler commits through TypeORM, at no extra round
 * trip: the `COMMIT` of a transaction begun inside a `wal` capture is sent as
 * `SELECT pg_logical_emit_message(true, 'nest_audit', '<context>'); COMMIT` (one simple-protocol message; a
 * transactional logical message emitted before COMMIT is decoded with that transaction's changes, which the
 * slot only hands out at commit). A write outside any transaction (autocommit) is wrapped in one, so it
 * carries the context too: two more round trips, only for those.
 *
 * Installed on the DataSource's driver: every query runner it creates (repositories, managers,
 * `dataSource.transaction()`, `dataSource.query()`) gets the hook; outside a capture a query goes straight
 * through after one AsyncLocalStorage lookup. Writes made with another client (a pg Pool of the app's own) are
 * not seen by the hook and are recorded as `database` writes.
 */
export function installWalContextHook(dataSource: DataSource): void {
  const driver = dataSource.driver as DataSource['driver'] & { [HOOKED]?: true };
  if (driver[HOOKED]) return;
  driver[HOOKED] = true;
  const create = driver.createQueryRunner.bind(driver);
  driver.createQueryRunner = (mode) => hookRunner(create(mode));
}

function hookRunner(runner: QueryRunner): QueryRunner {
  const query: Query = runner.query.bind(runner);
  runner.query = ((sql: string, parameters?: unknown[], structured?: boolean) => {
    const context = walCapture.getStore();
    if (!context) return query(sql, parameters, structured as never);
    if (sql === 'COMMIT') return query(`${emitOf(context)}; COMMIT`);
    if (!runner.isTransactionActive && WRITE.test(sql))
      return autocommit(query, sql, parameters, structured, emitOf(context));
    return query(sql, parameters, structured as never);
  }) as Query;
  return runner;
}

function emitOf(context: WalContext): string {
  // A reason given inside the handler (AuditService.withReason) wins over none from the request.
  const reason = context.reason ?? reasonContext.getStore()?.reason ?? null;
  const literal = contextLiteral(reason === context.reason ? context : { ...context, reason });
  return `SELECT pg_logical_emit_message(true, '${WAL_CONTEXT_PREFIX}', ${literal})`;
}

async function autocommit(
  query: Query,
  sql: string,
  parameters: unknown[] | undefined,
  structured: boolean | undefined,
  emit: string,
): Promise<unknown> {
  await query('BEGIN');
  try {
    const result: unknown = await query(sql, parameters, structured as never);
    await query(`${emit}; COMMIT`);
    return result;
  } catch (error) {
    await query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
