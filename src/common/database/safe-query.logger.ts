import { Logger as NestLogger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

/**
 * What a log line may say about a database error: the SQLSTATE and the names of the objects involved.
 * Never the message, `detail`, `where` or the query: a Postgres message can quote a value
 * (`invalid input syntax for type uuid: "..."`), `detail` always does (`Key (email)=(...) already exists`),
 * and TypeORM's `QueryFailedError` carries the query's parameters.
 */
export interface DatabaseErrorFields {
  sqlstate: string;
  table?: string;
  constraint?: string;
  column?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const NAME = /^[\w$.-]{1,128}$/;

/** The loggable fields of a Postgres error (pg's DatabaseError, TypeORM's QueryFailedError); null otherwise. */
export function databaseErrorFields(error: unknown): DatabaseErrorFields | null {
  if (typeof error !== 'object' || error === null) return null;
  const source = error as Record<string, unknown>;
  // QueryFailedError copies the driver's fields onto itself, and also keeps the original.
  const driver = (source.driverError ?? source) as Record<string, unknown>;
  const code = driver.code ?? source.code;
  if (typeof code !== 'string' || !SQLSTATE.test(code)) return null;
  // Only a real pg error has these: a Node error code (ECONNRESET) is 10 characters, an ioredis one has no severity.
  if (!('severity' in driver) && !('routine' in driver) && !('driverError' in source)) return null;
  const fields: DatabaseErrorFields = { sqlstate: code };
  for (const key of ['table', 'constraint', 'column'] as const) {
    const value = driver[key];
    // Identifiers only: anything else is not printed.
    if (typeof value === 'string' && NAME.test(value)) fields[key] = value;
  }
  return fields;
}

/** `22P02 (table audit_events, constraint x)`: a database error as a log line may print it. */
export function describeDatabaseError(fields: DatabaseErrorFields): string {
  const names = (['table', 'constraint', 'column'] as const)
    .filter((key) => fields[key] !== undefined)
    .map((key) => `${key} ${fields[key]}`);
  return names.length > 0 ? `${fields.sqlstate} (${names.join(', ')})` : fields.sqlstate;
}

/**
 * An error for a log line: a database error by its SQLSTATE and object names only; any other error by its
 * code and message (connection refused, a timeout, a full disk: messages that carry no request data).
 */
export function describeError(error: unknown): string {
  const fields = databaseErrorFields(error);
  if (fields) return describeDatabaseError(fields);
  if (!(error instanceof Error)) return typeof error === 'string' ? error : 'non-Error value thrown';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code ? `${code} ${error.message}` : error.message;
}

/**
 * A TypeORM logger that never prints a query's text or parameters: a failed query is logged by its
 * SQLSTATE, table and constraint. TypeORM's own loggers print the query with its parameters (an account's
 * email and password hash went to the service log when an INSERT failed), so applications should use this
 * one: `logger: new SafeQueryLogger()` in their DataSource options.
 */
export class SafeQueryLogger implements TypeOrmLogger {
  private readonly logger = new NestLogger('Database');

  /** Successful queries are not logged: their parameters are request data. */
  logQuery(): void {
    // nothing
  }

  logQueryError(error: string | Error): void {
    const fields = databaseErrorFields(error);
    // A string error is TypeORM's own text, which can quote the query: not printed.
    this.logger.error(`Query failed: ${fields ? describeDatabaseError(fields) : 'no SQLSTATE'}`);
  }

  logQuerySlow(time: number): void {
    this.logger.warn(`Slow query: ${Math.round(time)} ms`);
  }

  logSchemaBuild(): void {
    // the schema is built by migrations, which log their own names
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  /** TypeORM's own notices (no query or parameters in them); `log`/`info` only at debug level. */
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    const text = typeof message === 'string' ? message : 'TypeORM notice';
    if (level === 'warn') this.logger.warn(text);
    else this.logger.debug(text);
  }
}
