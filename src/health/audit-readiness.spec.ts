import { bufferProblem, lagProblem } from './audit-readiness';

describe('bufferProblem', () => {
  it('is fine below the high-water mark', () => {
    expect(bufferProblem({ pending: 0, inFlight: 0 }, 100)).toBeNull();
    expect(bufferProblem({ pending: 60, inFlight: 39 }, 100)).toBeNull();
  });

  it('counts events in flight with those waiting, and fails at the mark', () => {
    expect(bufferProblem({ pending: 60, inFlight: 40 }, 100)).toBe(
      '100 events held (60 waiting, 40 in flight), high-water mark 100',
    );
    expect(bufferProblem({ pending: 0, inFlight: 150 }, 100)).toMatch(/^150 events held/);
  });
});

describe('lagProblem', () => {
  it('is fine with nothing held or an age up to the limit', () => {
    expect(lagProblem({ oldestPendingMs: null }, 1000)).toBeNull();
    expect(lagProblem({ oldestPendingMs: 0 }, 1000)).toBeNull();
    expect(lagProblem({ oldestPendingMs: 1000 }, 1000)).toBeNull();
  });

  it('fails past the limit, saying by how much', () => {
    expect(lagProblem({ oldestPendingMs: 1001 }, 1000)).toBe('oldest event held for 1001 ms, limit 1000 ms');
  });
});
