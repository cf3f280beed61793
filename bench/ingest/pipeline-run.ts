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
  peakRssBytes: number;
}

/**
 * Times `record()` from the first call until `flush()` says every row is committed. The producer pauses
 * while `highWater` events are pending, so a faster producer than writer fills the buffer up to that bound
 * (the worst case for memory) without dropping.
 */
export async function runPipeline(
  audit: AuditService,
  inputs: readonly RecordAuditEventInput[],
  count: number,
  highWater: number,
): Promise<PipelineRun> {
  const rss = new RssSampler(50);
  let dropped = 0;
  let peakPending = 0;
  rss.start();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    if (audit.record(inputs[i % inputs.length]) === null) dropped++;
    if (i % YIELD_EVERY === YIELD_EVERY - 1) {
      await yieldToLoop();
      peakPending = Math.max(peakPending, audit.stats().pending);
      while (audit.stats().pending + YIELD_EVERY > highWater) await sleep(1);
    }
  }
  if (!(await audit.flush(FLUSH_TIMEOUT_MS))) throw new Error('The audit buffer did not drain in time');
  const seconds = (performance.now() - started) / 1000;
  return { seconds, dropped, peakPending, peakRssBytes: rss.stop() };
}
