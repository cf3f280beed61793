import { adaptiveBatchSize, maxAdaptiveBatch } from './adaptive-batch';

describe('adaptiveBatchSize', () => {
  it('uses the configured size while the backlog is small', () => {
    expect(adaptiveBatchSize(0, 2000, 16000, 2)).toBe(2000);
    expect(adaptiveBatchSize(3000, 2000, 16000, 2)).toBe(2000);
  });

  it('grows with the backlog, shared among the writers, up to the maximum', () => {
    expect(adaptiveBatchSize(10_000, 2000, 16000, 2)).toBe(5000);
    expect(adaptiveBatchSize(10_001, 2000, 16000, 2)).toBe(5001);
    expect(adaptiveBatchSize(1_000_000, 2000, 16000, 2)).toBe(16000);
  });

  it('caps growth at 8x the configured size and 20 000 rows', () => {
    expect(maxAdaptiveBatch(100)).toBe(800);
    expect(maxAdaptiveBatch(2000)).toBe(16000);
    expect(maxAdaptiveBatch(5000)).toBe(20000);
    expect(maxAdaptiveBatch(50000)).toBe(50000); // never below the configured size
  });
});
