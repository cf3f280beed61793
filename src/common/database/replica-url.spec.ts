import { isUnavailable } from './read-replicas';
import { replicaName, replicaUrlProblems } from './replica-url';

describe('replicaName', () => {
  it('is host:port/database, without the credentials', () => {
    expect(replicaName('postgres://reader:s3cret@replica-1.internal:6432/app?sslmode=require')).toBe(
      'replica-1.internal:6432/app',
    );
    expect(replicaName('postgresql://replica-2/app')).toBe('replica-2:5432/app');
  });

  it('is null for what is not a postgres:// URL with a host', () => {
    for (const url of ['mysql://h/db', 'replica-1:5432', 'postgres:///app', 'not a url']) {
      expect(replicaName(url)).toBeNull();
    }
  });
});

describe('replicaUrlProblems', () => {
  it('names a bad URL by position and scheme, never its password, and a replica listed twice', () => {
    const problems = replicaUrlProblems(
      ['postgres://a/x', 'https://u:hunter2@h/x', 'postgres://other@a:5432/x'],
      'AUDIT_REPLICA_URLS',
    );
    expect(problems).toEqual([
      'AUDIT_REPLICA_URLS[1] (https:...) must be a postgres:// URL with a host',
      'AUDIT_REPLICA_URLS[2]: a:5432/x is listed twice',
    ]);
    expect(problems.join(' ')).not.toContain('hunter2');
  });
});

describe('isUnavailable', () => {
  const error = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

  it('is true for a server that cannot answer: refused, reset, timeouts, shutdown, recovery conflicts', () => {
    expect(isUnavailable(error('connect ECONNREFUSED 127.0.0.1:5433', 'ECONNREFUSED'))).toBe(true);
    expect(isUnavailable(error('terminating connection due to administrator command', '57P01'))).toBe(true);
    expect(isUnavailable(error('the database system is starting up', '57P03'))).toBe(true);
    expect(isUnavailable(error('connection failure', '08006'))).toBe(true);
    expect(isUnavailable(error('canceling statement due to conflict with recovery', '40001'))).toBe(true);
    expect(isUnavailable(error('Connection terminated unexpectedly'))).toBe(true);
    expect(isUnavailable(error('timeout exceeded when trying to connect'))).toBe(true);
  });

  it('is false for an error of the query itself, which the primary would return too', () => {
    expect(isUnavailable(error('invalid input syntax for type uuid', '22P02'))).toBe(false);
    expect(isUnavailable(error('canceling statement due to statement timeout', '57014'))).toBe(false);
    expect(isUnavailable('a string')).toBe(false);
    expect(isUnavailable(undefined)).toBe(false);
  });
});
