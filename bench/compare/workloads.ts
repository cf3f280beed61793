import autocannon from 'autocannon';
import { prng } from '../lib/events';
import { JSON_HEADERS, planUpdates } from '../lib/http-load';
import { newAccountBody } from '../lib/seed';

export const OPERATIONS = ['create', 'read', 'list', 'update', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];
export type OperationCounts = Record<Operation, { ok: number; failed: number }>;

export interface Workload {
  name: string;
  /** Requests of each operation per 100. */
  mix: Record<Operation, number>;
}

/**
 * A create hashes a password with scrypt (~40 ms of CPU, the same in every variant): frequent creates would
 * make any mix a password-hashing benchmark, so they stay rare, matched by as many deletes (the table keeps
 * its size). Reads and updates touch the seeded accounts, creates and deletes a separate pool.
 */
export const WORKLOADS: Workload[] = [
  { name: 'mixed', mix: { create: 2, read: 55, list: 10, update: 31, delete: 2 } },
  { name: 'update-heavy', mix: { create: 1, read: 8, list: 0, update: 90, delete: 1 } },
];

/** The accounts the workloads share: stable ones are read and updated, churn ones created and deleted. */
export class AccountPool {
  /** PATCH path and body; each pass over the stable accounts changes their plan (never a no-op). */
  readonly nextUpdate: () => { path: string; body: string };
  private nextRead = 0;
  private created = 0;

  constructor(
    private readonly stable: readonly string[],
    private readonly churn: string[],
  ) {
    this.nextUpdate = planUpdates(stable);
  }

  readPath(): string {
    return `/accounts/${this.stable[this.nextRead++ % this.stable.length]}`;
  }

  createBody(): string {
    return newAccountBody(1_000_000 + this.created++);
  }

  /** The oldest churn account, removed from the pool (undefined when it is empty). */
  takeForDelete(): string | undefined {
    return this.churn.shift();
  }

  addCreated(id: string): void {
    this.churn.push(id);
  }
}

/**
 * The autocannon request of a workload: each request takes the next operation of a fixed shuffled schedule,
 * and each response is counted by operation, so a run knows what it asked the service to do.
 */
export class WorkloadDriver {
  readonly request: autocannon.Request;
  counts = emptyCounts();
  /** Request ids (X-Request-Id) of the successful mutations since resetRequestIds(). */
  mutationIds: string[] = [];
  private readonly schedule: Operation[];
  private next = 0;

  constructor(
    readonly workload: Workload,
    private readonly pool: AccountPool,
  ) {
    this.schedule = shuffledSchedule(workload.mix);
    this.request = {
      setupRequest: (request, context) => {
        const { op, ...next } = this.nextRequest(request.headers ?? {});
        context.op = op;
        return { ...request, ...next };
      },
      onResponse: (status, body, context, headers) =>
        this.record(context.op as Operation, status, body, headers),
    };
  }

  resetCounts(): void {
    this.counts = emptyCounts();
  }

  resetRequestIds(): void {
    this.mutationIds = [];
  }

  private nextRequest(headers: Record<string, string>): autocannon.Request & { op: Operation } {
    const op = this.schedule[this.next++ % this.schedule.length];
    const json = { ...headers, ...JSON_HEADERS };
    switch (op) {
      case 'create':
        return { op, method: 'POST', path: '/accounts', headers: json, body: this.pool.createBody() };
      case 'read':
        return { op, method: 'GET', path: this.pool.readPath() };
      case 'list':
        return { op, method: 'GET', path: '/accounts' };
      case 'update':
        return { op, method: 'PATCH', headers: json, ...this.pool.nextUpdate() };
      case 'delete': {
        const id = this.pool.takeForDelete();
        if (id) return { op, method: 'DELETE', path: `/accounts/${id}` };
        // Not expected (creates refill the pool); a delete of nothing would be a 404, so read instead.
        return { op: 'read', method: 'GET', path: this.pool.readPath() };
      }
    }
  }

  private record(
    op: Operation,
    status: number,
    body: string,
    headers?: Record<string, string | string[]>,
  ): void {
    const ok = status >= 200 && status < 300;
    this.counts[op][ok ? 'ok' : 'failed']++;
    if (ok && op !== 'read' && op !== 'list') {
      // Raw header names, as the service wrote them.
      const id = headers?.['X-Request-Id'] ?? headers?.['x-request-id'];
      if (typeof id === 'string') this.mutationIds.push(id);
    }
    if (op === 'create' && ok) this.pool.addCreated((JSON.parse(body) as { id: string }).id);
  }
}

function emptyCounts(): OperationCounts {
  return Object.fromEntries(OPERATIONS.map((op) => [op, { ok: 0, failed: 0 }])) as OperationCounts;
}

/** 100 operations in the mix's proportions, shuffled with a fixed seed so every run sees the same sequence. */
function shuffledSchedule(mix: Record<Operation, number>): Operation[] {
  const schedule = OPERATIONS.flatMap((op) => Array.from({ length: mix[op] }, () => op));
  const random = prng(42);
  for (let i = schedule.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [schedule[i], schedule[j]] = [schedule[j], schedule[i]];
  }
  return schedule;
}
