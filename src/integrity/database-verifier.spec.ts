import { StoredSeal } from './chain-verifier';
import { splitWindow } from './database-verifier';

const seal = (firstAtMicros: bigint, eventCount: number) =>
  ({ firstAtMicros: String(firstAtMicros), eventCount }) as StoredSeal;

/** 40 batches of 5,000 events, one every second from t = 1,000 s, each starting 123 us past the ms. */
const seals = Array.from({ length: 40 }, (_, i) => seal(BigInt(1000 + i) * 1_000_000n + 123n, 5000));

describe('splitWindow', () => {
  it('cuts an open window at a whole millisecond into parts of about equal event counts', () => {
    const parts = splitWindow({ fromMicros: null, toMicros: null }, seals, 2);
    expect(parts).toEqual([
      { fromMicros: null, toMicros: 1_020_000_000n },
      { fromMicros: 1_020_000_000n, toMicros: null },
    ]);
  });

  it('keeps the bounds of a closed window, the parts adjoining each other', () => {
    const window = { fromMicros: 999_000_000n, toMicros: 1_050_000_000n };
    const parts = splitWindow(window, seals, 3);
    expect(parts).toHaveLength(3);
    expect(parts[0].fromMicros).toBe(window.fromMicros);
    expect(parts[2].toMicros).toBe(window.toMicros);
    for (let i = 1; i < parts.length; i++) {
      expect(parts[i].fromMicros).toBe(parts[i - 1].toMicros);
      expect(parts[i].fromMicros! % 1000n).toBe(0n);
    }
  });

  it('does not split a small verification or one with nowhere to cut', () => {
    const window = { fromMicros: null, toMicros: null };
    expect(splitWindow(window, seals.slice(0, 19), 2)).toEqual([window]);
    expect(splitWindow(window, seals, 1)).toEqual([window]);
    const sameMillisecond = Array.from({ length: 40 }, () => seal(1_000_000_000n, 5000));
    expect(splitWindow({ fromMicros: 1_000_000_000n, toMicros: null }, sameMillisecond, 2)).toEqual([
      { fromMicros: 1_000_000_000n, toMicros: null },
    ]);
  });
});
