import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { ServiceProcess } from './app';
import { countAuditEvents } from './bench-db';

const POLL_MS = 100;
/** Polls in a row with the same row count before the writes count as done (see waitForAuditWritten). */
const STABLE_POLLS = 3;

interface BufferCheck {
  pending?: number;
  /** Events in COPY batches not yet committed; reported by newer versions of the service only. */
  inFlight?: number;
}

/**
 * Events the service captured and has not committed yet, from its readiness probe (`details` holds every
 * check, also when the probe answers 503). 0 when not reported: waitForAuditWritten then relies on the row count.
 */
export async function pendingAuditEvents(service: ServiceProcess): Promise<number> {
  const response = await fetch(`${service.baseUrl}/health/ready`);
  const body = (await response.json()) as {
    details?: { auditBuffer?: BufferCheck };
    info?: { auditBuffer?: BufferCheck };
  };
  const check = body.details?.auditBuffer ?? body.info?.auditBuffer;
  return (check?.pending ?? 0) + (check?.inFlight ?? 0);
}

/** Waits until the service's audit buffer is empty (with an older service, a last COPY may be in flight). */
export async function waitForEmptyBuffer(service: ServiceProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await pendingAuditEvents(service)) > 0) {
    if (Date.now() > deadline) throw new Error('The audited service did not drain its buffer');
    await sleep(POLL_MS);
  }
}

/**
 * Waits until what the service captured is committed: the buffer is empty and the row count of audit_events
 * has stopped moving (older services leave the batches being copied out of their buffer count).
 */
export async function waitForAuditWritten(
  sql: Client,
  service: ServiceProcess,
  timeoutMs = 30_000,
): Promise<void> {
  await waitForEmptyBuffer(service, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (let stable = 0; stable < STABLE_POLLS;) {
    if (Date.now() > deadline) throw new Error('audit_events kept growing after the buffer was empty');
    const count = await countAuditEvents(sql);
    stable = count === last ? stable + 1 : 0;
    last = count;
    await sleep(POLL_MS);
  }
}
