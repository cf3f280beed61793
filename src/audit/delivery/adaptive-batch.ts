/**
 * How many events the next COPY takes. With a small backlog, the configured batch size (low latency,
 * small transactions); as the backlog grows, bigger batches (one COPY and one commit amortized over more
 * rows), so the writers catch up faster instead of queueing more round trips: the backlog is shared
 * among the parallel writers, up to `max`.
 */
export function adaptiveBatchSize(backlog: number, base: number, max: number, writers: number): number {
  const share = Math.ceil(backlog / Math.max(1, writers));
  return Math.max(base, Math.min(max, share));
}

/** The largest batch adaptive sizing may reach: 8 times the configured size, capped at 20 000 rows. */
export function maxAdaptiveBatch(base: number): number {
  return Math.max(base, Math.min(base * 8, 20_000));
}
