import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { ServiceProcess, startServiceProcess } from '../lib/app';
import { BackendCpu, BackendCpuMeter } from '../lib/backend-cpu';
import { processCpuSeconds } from '../lib/cpu';

/** The slot and session trigger AuditWalModule sets up with its defaults (the demo's). */
const SLOT = 'nest_audit_wal';
const SESSION_TRIGGER = 'nest_audit_wal_session';
const POLL_MS = 100;

/** The environment of a `wal` mode process of the demo (DEMO_AUDIT_CONSISTENCY=wal, reads in memory mode). */
export const WAL_ENV = { AUDIT_DISABLED: 'false', AUDIT_DELIVERY: 'memory', DEMO_AUDIT_CONSISTENCY: 'wal' };

/**
 * The slot consumer of variant (e): a service process of its own with the consumer on, serving no requests,
 * as a worker on another node would. The (e) API processes run with AUDIT_WAL_CONSUME=off.
 *
 * Deferred (pause): SIGSTOP, then its walsender is ended, so nothing decodes the slot while the other
 * variants or (e)'s request-path window run; resume (SIGCONT) and it reconnects from the slot's confirmed
 * position, as a restarted worker does. Its process stays warm (JIT, pools) across runs.
 */
export class WalWorker {
  private paused = false;

  private constructor(readonly service: ServiceProcess) {}

  static async start(databaseUrl: string, env: Record<string, string>): Promise<WalWorker> {
    return new WalWorker(await startServiceProcess(databaseUrl, { ...WAL_ENV, LOG_LEVEL: 'warn', ...env }));
  }

  get pid(): number {
    return this.service.pid;
  }

  /** Stops the process and ends its replication connection: the slot is then read by nobody. */
  async pause(sql: Client): Promise<void> {
    if (!this.paused) process.kill(this.service.pid, 'SIGSTOP');
    this.paused = true;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await sql.query<{ active_pid: number | null }>(
        'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
        [SLOT],
      );
      const pid = rows[0]?.active_pid ?? null;
      if (pid === null) return;
      if (Date.now() > deadline) throw new Error(`The slot is still read by backend ${pid}`);
      await sql.query('SELECT pg_terminate_backend($1)', [pid]);
      await sleep(POLL_MS);
    }
  }

  resume(): void {
    if (!existsSync(`/proc/${this.service.pid}`))
      throw new Error(`The wal worker exited:\n${this.service.output().slice(-4000)}`);
    if (this.paused) process.kill(this.service.pid, 'SIGCONT');
    this.paused = false;
  }

  /**
   * Moves the slot past everything written so far (while paused): the other variants' writes to the accounts
   * are not (e)'s to record. Fast-forward decoding, outside every measured span.
   */
  async skipToNow(sql: Client): Promise<void> {
    if (!this.paused) throw new Error('The slot can be moved only while the worker is paused');
    await sql.query('SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())', [SLOT]);
  }

  /**
   * Waits until the worker has stored (and confirmed) everything up to `target` (default: the server's
   * position now); false on timeout. Its confirmation of WAL with no captured change waits for a keepalive
   * (about a second).
   */
  async caughtUp(sql: Client, target?: string, timeoutMs = 300_000): Promise<boolean> {
    const lsn = target ?? (await currentLsn(sql));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await sql.query<{ done: boolean }>(
        'SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1',
        [SLOT, lsn],
      );
      if (rows[0]?.done) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  async stop(): Promise<void> {
    try {
      this.resume();
    } catch {
      // already exited
    }
    await this.service.stop();
  }
}

export async function currentLsn(sql: Client): Promise<string> {
  const { rows } = await sql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return rows[0].lsn;
}

/**
 * The database side of (e), on for its runs only, like (b)'s trigger: the whole old row in the WAL (REPLICA
 * IDENTITY FULL) and the session trigger's message per transaction would otherwise cost the other variants.
 */
export async function setWalCapture(sql: Client, enabled: boolean): Promise<void> {
  await sql.query(
    `ALTER TABLE accounts REPLICA IDENTITY ${enabled ? 'FULL' : 'DEFAULT'}, ` +
      `${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER ${SESSION_TRIGGER}`,
  );
}

/** The worker's catch-up on a backlog (variant (e) on the request path), measured on its own. */
export interface Drain {
  /** Everything up to the target position stored and confirmed, in time. */
  completed: boolean;
  /** audit_events rows the worker wrote. */
  events: number;
  /** From the resume to the last row written (includes its reconnect, ~0.5 s). */
  seconds: number;
  /** CPU of the worker process over the drain. */
  workerCpuSeconds: number | null;
  /** CPU of the database's backends over the drain, by group (walsender: decoding; wal: its COPY). */
  postgresCpu: BackendCpu | null;
}

/**
 * Resumes the paused worker on the backlog up to `target` and measures the drain: rows, time, the worker's
 * and the backends' CPU (the meter must leave out the bench's own polling connection).
 */
export async function measureDrain(
  sql: Client,
  worker: WalWorker,
  target: string,
  meter: BackendCpuMeter,
  timeoutMs = 300_000,
): Promise<Drain> {
  const poll = async () => {
    const { rows } = await sql.query<{ n: string; done: boolean | null }>(
      `SELECT (SELECT count(*) FROM audit_events) AS n,
              (SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1) AS done`,
      [SLOT, target],
    );
    return { rows: Number(rows[0].n), done: rows[0].done === true };
  };
  const first = await poll();
  await meter.start();
  const cpuBefore = processCpuSeconds(worker.pid);
  const started = performance.now();
  worker.resume();
  let last = first.rows;
  let lastChange = started;
  let completed = false;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    const now = await poll();
    if (now.rows !== last) [last, lastChange] = [now.rows, performance.now()];
    if (now.done) {
      completed = true;
      break;
    }
  }
  const postgresCpu = await meter.stop();
  const cpuAfter = processCpuSeconds(worker.pid);
  return {
    completed,
    events: last - first.rows,
    seconds: Number(((lastChange - started) / 1000).toFixed(3)),
    workerCpuSeconds:
      cpuBefore === null || cpuAfter === null ? null : Number((cpuAfter - cpuBefore).toFixed(2)),
    postgresCpu,
  };
}

/**
 * Backends by what they do for the run: decoding the slot (walsender), the wal worker's COPY (its pool,
 * `nest-audit-trail:wal`), the audit writer's COPY of buffered events (memory and redis modes; (e)'s reads
 * and failures), and the sessions serving the requests (statements, triggers, (e)'s context message).
 */
export function backendGroup(backend: { backendType: string; application: string }): string {
  if (backend.backendType === 'walsender') return 'walsender';
  if (backend.application === 'nest-audit-trail:wal') return 'walWorker';
  return backend.application === 'nest-audit-trail:writer' ? 'writer' : 'sessions';
}
