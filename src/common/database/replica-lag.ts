/** A WAL position (`16/B374D848`) as a number of bytes. */
export function lsnBytes(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** What a replica said about itself, and what the primary had written just before. */
export interface ReplicaSample {
  /** When the sample was taken (ms since the epoch). */
  at: number;
  /** The replica's `pg_last_wal_replay_lsn()`. */
  replayed: bigint;
  /** `now() - pg_last_xact_replay_timestamp()` on the replica, in ms; null before its first replayed commit. */
  sinceLastReplayMs: number | null;
}

/**
 * The primary's WAL position over the last minutes, sampled at each check, so that a replica's replay
 * position can be turned into a time: the replica shows the primary as it was at the last sample it has
 * replayed past.
 *
 * Why not `now() - pg_last_xact_replay_timestamp()` alone: on an idle primary nothing is committed, so that
 * age grows without bound while the replica is fully caught up, and the first commit after a quiet hour
 * would read as an hour of lag. Comparing WAL positions first gives 0 whenever the replica has replayed all
 * the primary had written; only a replica that is really behind gets a time, the smaller (tighter) of the
 * two bounds: since the last replayed commit, since the last primary sample it has replayed past.
 */
export class WalPositionHistory {
  private readonly samples: Array<{ at: number; lsn: bigint }> = [];

  constructor(private readonly keepMs: number) {}

  /** The primary's `pg_current_wal_lsn()` at `at`. */
  add(at: number, lsn: bigint): void {
    this.samples.push({ at, lsn });
    while (this.samples.length > 2 && this.samples[0].at < at - this.keepMs) this.samples.shift();
  }

  /** The primary's newest known position. */
  get latest(): bigint | null {
    return this.samples.length > 0 ? this.samples[this.samples.length - 1].lsn : null;
  }

  /** How far behind the primary the replica is: bytes of WAL not replayed, and an estimate in ms. */
  lag(sample: ReplicaSample): { bytes: number | null; ms: number | null } {
    const latest = this.latest;
    if (latest === null) return { bytes: null, ms: sample.sinceLastReplayMs };
    if (sample.replayed >= latest) return { bytes: 0, ms: 0 };
    const bytes = Number(latest - sample.replayed);
    // The newest primary position the replica has replayed past: it is at least that fresh.
    let caughtUpAt: number | null = null;
    for (const s of this.samples) if (s.lsn <= sample.replayed) caughtUpAt = s.at;
    const sinceSample = sample.at - (caughtUpAt ?? this.samples[0].at);
    const ms =
      sample.sinceLastReplayMs === null ? sinceSample : Math.min(sinceSample, sample.sinceLastReplayMs);
    return { bytes, ms: Math.max(0, Math.round(ms)) };
  }
}
