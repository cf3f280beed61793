import { PassThrough, Readable } from 'node:stream';
import { VerifyProgress, VerifyReport } from './database-verifier';

/** A progress line at most this often (checked every PROGRESS_SAMPLE events)... */
export const PROGRESS_INTERVAL_MS = 250;
/** ...or after this many more events, whichever comes first. */
export const PROGRESS_EVERY_EVENTS = 50_000;
/** The clock is read once per this many events (a power of two), not per event. */
const PROGRESS_SAMPLE = 256;

/** The lines of `GET <admin>/integrity/verify?progress=ndjson`, in this order: start, progress*, result | error. */
export type VerifyLine =
  | { type: 'start'; totalEvents: number | null }
  | { type: 'progress'; checkedEvents: number; totalEvents: number | null }
  | ({ type: 'result' } & VerifyReport)
  | { type: 'error'; message: string };

/**
 * Turns a verifier's progress calls into lines: one `start` with the events the range's seals count (null
 * when unknown: no seal in range), then a `progress` with the events read so far when PROGRESS_INTERVAL_MS
 * have passed or PROGRESS_EVERY_EVENTS events were read since the previous line. `checkedEvents` counts
 * the events read, which may exceed `totalEvents` (events not sealed yet, or just outside the range).
 */
export class ProgressLines implements VerifyProgress {
  private total: number | null = null;
  private lastAt = 0;
  private lastCount = 0;

  constructor(
    private readonly emit: (line: VerifyLine) => void,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
    private readonly everyEvents = PROGRESS_EVERY_EVENTS,
  ) {}

  start(totalEvents: number | null): void {
    this.total = totalEvents;
    this.lastAt = this.now();
    this.emit({ type: 'start', totalEvents });
  }

  read(readEvents: number): void {
    const due =
      readEvents - this.lastCount >= this.everyEvents ||
      (readEvents % PROGRESS_SAMPLE === 0 && this.now() - this.lastAt >= this.intervalMs);
    if (!due) return;
    this.lastCount = readEvents;
    this.lastAt = this.now();
    this.emit({ type: 'progress', checkedEvents: readEvents, totalEvents: this.total });
  }
}

/**
 * Runs a verification and streams its lines as NDJSON: start, progress, then exactly one `result` (the
 * report) or, if it throws, one `error` that says nothing of why (`onError` is told, for the logs). A
 * consumer that goes away (the stream destroyed) stops the lines, not the verification: it runs to its end,
 * so whatever it records afterwards is still recorded.
 */
export function verifyLines(
  run: (progress: VerifyProgress) => Promise<VerifyReport>,
  onError: (error: Error) => void,
  now?: () => number,
): Readable {
  const out = new PassThrough();
  const emit = (line: VerifyLine) => {
    if (!out.destroyed && !out.writableEnded) out.write(`${JSON.stringify(line)}\n`);
  };
  const finish = () => {
    if (!out.destroyed && !out.writableEnded) out.end();
  };
  const progress = new ProgressLines(emit, now);
  // Started on the next tick: the caller has handed the stream to the response by then.
  setImmediate(() => {
    run(progress)
      .then((report) => emit({ type: 'result', ...report }))
      .catch((error: Error) => {
        onError(error);
        emit({ type: 'error', message: 'verification failed' });
      })
      .finally(finish);
  });
  return out;
}
