import type { AuditWriterStats } from '../audit';

/**
 * Why the audit buffer makes this instance unready, or null. Every event held counts, waiting or in a COPY
 * not yet committed: both take memory, and past the mark new events are being dropped.
 */
export function bufferProblem(
  stats: Pick<AuditWriterStats, 'pending' | 'inFlight'>,
  highWaterMark: number,
): string | null {
  const held = stats.pending + stats.inFlight;
  if (held < highWaterMark) return null;
  return `${held} events held (${stats.pending} waiting, ${stats.inFlight} in flight), high-water mark ${highWaterMark}`;
}

/** Why the age of the oldest uncommitted event makes this instance unready, or null. */
export function lagProblem(
  stats: Pick<AuditWriterStats, 'oldestPendingMs'>,
  maxLagMs: number,
): string | null {
  const age = stats.oldestPendingMs;
  if (age === null || age <= maxLagMs) return null;
  return `oldest event held for ${age} ms, limit ${maxLagMs} ms`;
}
