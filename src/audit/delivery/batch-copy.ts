import { performance } from 'node:perf_hooks';
import type { AuditEventRepository } from '../audit-event.repository';
import { describeError } from '../../common/database/safe-query.logger';
import type { PoisonedEvent, QueuedEvent, WriteAttempt } from '../queued-event';
import type { SubjectKeyRecord } from '../personal-data/subject-keyring';

// Postgres error classes that mean "this data can never be written" (bad value, constraint), as opposed to
// "try again later" (connection, lock, admin shutdown, missing table being recreated...). A unique
// violation (23505) is neither: it means part of the batch is already stored, and the idempotent path
// settles it.
const DATA_ERROR = /^(22|23)/;
const UNIQUE_VIOLATION = '23505';

export interface BatchOutcome {
  /** Events now stored (for the idempotent path: stored now or found already stored). */
  written: QueuedEvent[];
  /** Events Postgres refused for their data, each alone in its batch: set aside by the caller. */
  poisoned: PoisonedEvent[];
}

/**
 * Writes one batch with COPY, the plain way (`idempotent` false: never attempted before) or the idempotent
 * way (a replay: stored ids are skipped). A batch with bad data is split in halves until each bad event is
 * alone; the rest is written. Anything else (Postgres down, timeout) is thrown for the caller to keep the
 * batch and try again later. Every COPY attempt is reported to `onAttempt`.
 */
export async function copyBatch(
  repository: AuditEventRepository,
  batch: QueuedEvent[],
  idempotent: boolean,
  onAttempt: (attempt: WriteAttempt) => void = () => undefined,
): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { written: [], poisoned: [] };
  await copyOrSplit(repository, batch, idempotent, onAttempt, outcome);
  return outcome;
}

async function copyOrSplit(
  repository: AuditEventRepository,
  batch: QueuedEvent[],
  idempotent: boolean,
  onAttempt: (attempt: WriteAttempt) => void,
  outcome: BatchOutcome,
): Promise<void> {
  const lines = batch.map((event) => event.line);
  const keys = keysOf(batch);
  const started = performance.now();
  const report = (errorCode: string | null) =>
    onAttempt({
      events: batch.length,
      durationMs: performance.now() - started,
      retry: idempotent,
      errorCode,
    });
  try {
    if (idempotent) await repository.copyIdempotent(lines, keys);
    else await repository.copy(lines, keys);
    report(null);
    outcome.written.push(...batch);
    return;
  } catch (error) {
    const code = errorCode(error);
    report(code);
    if (code === UNIQUE_VIOLATION && !idempotent) {
      return copyOrSplit(repository, batch, true, onAttempt, outcome);
    }
    if (!DATA_ERROR.test(code)) throw error;
    if (batch.length === 1) {
      outcome.poisoned.push({ event: batch[0], error: describeError(error), code });
      return;
    }
  }
  const middle = Math.ceil(batch.length / 2);
  await copyOrSplit(repository, batch.slice(0, middle), true, onAttempt, outcome);
  await copyOrSplit(repository, batch.slice(middle), true, onAttempt, outcome);
}

/** The subject keys the batch's events carry, each once. */
function keysOf(batch: readonly QueuedEvent[]): SubjectKeyRecord[] {
  const keys = new Map<string, SubjectKeyRecord>();
  for (const event of batch) for (const key of event.keys ?? []) keys.set(key.id, key);
  return [...keys.values()];
}

export function errorCode(error: unknown): string {
  return (error as { code?: string } | null)?.code ?? '';
}
