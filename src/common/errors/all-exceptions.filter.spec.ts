import { ArgumentsHost, Logger } from '@nestjs/common';
import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { AllExceptionsFilter } from './all-exceptions.filter';

const VALUE = 'eve-7731@example.com';

function host() {
  const response = {
    headersSent: false,
    statusCode: 0,
    body: undefined as unknown,
    status(code: number) {
      this.statusCode = code;
      return this;
    },
    json(body: unknown) {
      this.body = body;
      return this;
    },
  };
  const request = {
    method: 'POST',
    path: `/accounts/${VALUE}`,
    route: { path: '/accounts/:id' },
    requestId: 'req-1',
  };
  const argumentsHost = {
    switchToHttp: () => ({ getResponse: () => response, getRequest: () => request }),
  } as unknown as ArgumentsHost;
  return { argumentsHost, response };
}

/** A pg error as the driver builds it: its message and detail quote the value. */
function pgError(): DatabaseError {
  const error = new DatabaseError(`invalid input syntax for type uuid: "${VALUE}"`, 0, 'error');
  error.code = '22P02';
  error.severity = 'ERROR';
  error.detail = `Key (email)=(${VALUE}) already exists.`;
  error.table = 'accounts';
  error.constraint = 'accounts_email_key';
  return error;
}

describe('AllExceptionsFilter', () => {
  let logged: string[];
  beforeEach(() => {
    logged = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => {
      logged.push(String(message));
    });
  });
  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['a pg error', () => pgError()],
    ['a TypeORM QueryFailedError', () => new QueryFailedError('INSERT ...', [VALUE, 'scrypt$x'], pgError())],
  ])('logs %s by SQLSTATE, table, constraint and request id only', (_name, make) => {
    const { argumentsHost, response } = host();
    new AllExceptionsFilter().catch(make(), argumentsHost);
    expect(response.statusCode).toBe(500);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('22P02');
    expect(logged[0]).toContain('table accounts');
    expect(logged[0]).toContain('constraint accounts_email_key');
    expect(logged[0]).toContain('req-1');
    expect(logged[0]).toContain('/accounts/:id');
    expect(logged[0]).not.toContain(VALUE);
    expect(logged[0]).not.toContain('scrypt$');
  });

  it('logs any other error by its name and stack frames, not its message', () => {
    const { argumentsHost } = host();
    new AllExceptionsFilter().catch(new TypeError(`cannot handle ${VALUE}`), argumentsHost);
    expect(logged[0]).toContain('TypeError');
    expect(logged[0]).toContain('    at ');
    expect(logged[0]).not.toContain(VALUE);
  });
});
