import { Logger } from '@nestjs/common';
import { DatabaseError } from 'pg';
import { QueryFailedError, Logger as TypeOrmLogger } from 'typeorm';
import { describeError, SafeQueryLogger } from './safe-query.logger';

const VALUE = 'eve@example.com';

function pgError(code: string): DatabaseError {
  const error = new DatabaseError(`invalid input syntax for type uuid: "${VALUE}"`, 0, 'error');
  error.code = code;
  error.severity = 'ERROR';
  error.detail = `Key (email)=(${VALUE}) already exists.`;
  error.where = `COPY audit_events, line 1, column metadata: "{\\"email\\": \\"${VALUE}\\"}"`;
  error.table = 'accounts';
  error.constraint = 'accounts_email_key';
  return error;
}

describe('describeError', () => {
  it('describes a Postgres error by SQLSTATE and object names, never its message, detail or where', () => {
    const text = describeError(pgError('23505'));
    expect(text).toBe('23505 (table accounts, constraint accounts_email_key)');
  });

  it('keeps the code and message of errors that are not Postgres errors (connection, disk)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(describeError(refused)).toBe('ECONNREFUSED connect ECONNREFUSED 127.0.0.1:5432');
  });
});

describe('SafeQueryLogger', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    for (const level of ['error', 'warn', 'log', 'debug'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
        lines.push(String(args[0]));
      });
    }
  });
  afterEach(() => jest.restoreAllMocks());

  it('logs a failed query by SQLSTATE and names only: no query text, no parameters', () => {
    // Called as TypeORM calls it: through its Logger interface, with the query and its parameters.
    const logger: TypeOrmLogger = new SafeQueryLogger();
    const query = `INSERT INTO accounts (email) VALUES ($1)`;
    logger.logQueryError(new QueryFailedError(query, [VALUE], pgError('22P02')), query, [VALUE]);
    logger.logQueryError(pgError('23505'), query, [VALUE]);
    logger.logQueryError(`syntax error at "${VALUE}"`, query, [VALUE]);
    logger.logQuery(query, [VALUE]);
    logger.logQuerySlow(1234.5, query, [VALUE]);
    expect(lines).toEqual([
      'Query failed: 22P02 (table accounts, constraint accounts_email_key)',
      'Query failed: 23505 (table accounts, constraint accounts_email_key)',
      'Query failed: no SQLSTATE',
      'Slow query: 1235 ms',
    ]);
  });
});
