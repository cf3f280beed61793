import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { AuditService } from '../../src/audit/audit.service';
import { RecordAuditEventInput } from '../../src/audit/audit.types';
import { RssSampler } from '../lib/memory';

/** Records this many events, then lets timers and sockets run: the writer's COPY streams make progress. */
const YIELD_EVERY = 500;
const FLUSH_TIMEOUT_MS = 300_000;

export interface PipelineRun {
  seconds: number;
  dropped: number;
  peakPending: number;
  /** The writer's `heldBytes` at its highest (sampled every YIELD_EVERY events). */
  peakHeldBytes: number;
  peakRssBytes: number;
}

/** Room kept below the byte bound while producing the next YIELD_EVERY events (a generous 4 KiB each). */
const BYTES_AHEAD = YIELD_EVERY * 4096;

/**
 * Times `record()` from the first call until `flush()` says every row is committed. The producer pauses
 * while `highWater` events are pending or the writer holds nearly `maxBufferBytes` (the `overflow: 'block'`
 * behaviour, without its per-call timer), so a faster producer than writer fills the buffer up to its bounds
 * (the worst case for memory) without dropping.
 */
export async function runPipeline(
  audit: AuditService,
  inputs: readonly RecordAuditEventInput[],
  count: number,
  highWater: number,
  maxBufferBytes = Infinity,
): Promise<PipelineRun> {
  const full = () => {
    const { pending, heldBytes } = audit.stats();
    return pending + YIELD_EVERY > highWater || heldBytes + BYTES_AHEAD > maxBufferBytes;
  };
  const rss = new RssSampler(50);
  let dropped = 0;
  let peakPending = 0;
  let peakHeldBytes = 0;
  rss.start();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    if (audit.record(inputs[i % inputs.length]) === null) dropped++;
    if (i % YIELD_EVERY === YIELD_EVERY - 1) {
      await yieldToLoop();
      const stats = audit.stats();
      peakPending = Math.max(peakPending, stats.pending);
      peakHeldBytes = Math.max(peakHeldBytes, stats.heldBytes);
      while (full()) await sleep(1);
    }
  }
  if (!(await audit.flush(FLUSH_TIMEOUT_MS))) throw new Error('The audit buffer did not drain in time');
  const seconds = (performance.now() - started) / 1000;
  return { seconds, dropped, peakPending, peakHeldBytes, peakRssBytes: rss.stop() };
}
