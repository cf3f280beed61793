import { lsnBytes, WalPositionHistory } from './replica-lag';

describe('lsnBytes', () => {
  it('reads both halves of a WAL position', () => {
    expect(lsnBytes('0/16B3748')).toBe(0x16b3748n);
    expect(lsnBytes('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
  });
});

describe('WalPositionHistory', () => {
  it('is no lag at all when the replica has replayed what the primary last had, however old its last commit', () => {
    const history = new WalPositionHistory(60_000);
    history.add(1_000, 500n);
    // An idle primary: the last commit replayed an hour ago, but nothing new was written since.
    expect(history.lag({ at: 1_010, replayed: 500n, sinceLastReplayMs: 3_600_000 })).toEqual({
      bytes: 0,
      ms: 0,
    });
  });

  it('counts a replica behind from the last primary position it has replayed past, in bytes and ms', () => {
    const history = new WalPositionHistory(60_000);
    history.add(1_000, 100n);
    history.add(2_000, 200n);
    history.add(3_000, 300n);
    // Replayed up to 250: it shows the primary as it was at 2_000 at least.
    expect(history.lag({ at: 3_500, replayed: 250n, sinceLastReplayMs: null })).toEqual({
      bytes: 50,
      ms: 1_500,
    });
    // A commit replayed 200 ms ago is a tighter bound.
    expect(history.lag({ at: 3_500, replayed: 250n, sinceLastReplayMs: 200 }).ms).toBe(200);
  });

  it('counts from the oldest sample kept when the replica is behind all of them', () => {
    const history = new WalPositionHistory(5_000);
    for (let at = 0; at <= 20_000; at += 1_000) history.add(at, BigInt(1_000 + at));
    const lag = history.lag({ at: 20_000, replayed: 10n, sinceLastReplayMs: null });
    expect(lag.ms).toBe(5_000);
    expect(lag.bytes).toBe(21_000 - 10);
  });

  it('falls back to the replay timestamp before the primary was ever sampled', () => {
    const history = new WalPositionHistory(60_000);
    expect(history.lag({ at: 1, replayed: 1n, sinceLastReplayMs: 42 })).toEqual({ bytes: null, ms: 42 });
  });
});
