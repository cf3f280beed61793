import { readFileSync } from 'node:fs';
import { Client } from 'pg';

/** Linux reports process CPU times in clock ticks; 100 per second on every common kernel config. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface CpuUse {
  /** CPU seconds (user + system) of this Node process. */
  nodeSeconds: number;
  /** CPU seconds of the Postgres backends connected to the database; null when not measurable (remote server). */
  postgresSeconds: number | null;
}

/**
 * Measures where CPU goes during a run: this process, and the Postgres backends of the benchmark database
 * (read from /proc, so only when Postgres runs on this machine). A backend that exits mid-run is not counted.
 */
export class CpuMeter {
  private node = process.cpuUsage();
  private backends = new Map<number, number>();

  constructor(private readonly sql: Client) {}

  async start(): Promise<void> {
    this.backends = await this.backendTicks();
    this.node = process.cpuUsage();
  }

  async stop(): Promise<CpuUse> {
    const node = process.cpuUsage(this.node);
    const after = await this.backendTicks();
    let ticks = 0;
    for (const [pid, total] of after) ticks += total - (this.backends.get(pid) ?? 0);
    return {
      nodeSeconds: (node.user + node.system) / 1e6,
      postgresSeconds: after.size > 0 ? ticks / CLOCK_TICKS_PER_SECOND : null,
    };
  }

  private async backendTicks(): Promise<Map<number, number>> {
    const { rows } = await this.sql.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
    );
    const ticks = new Map<number, number>();
    for (const { pid } of rows) {
      const total = processTicks(pid);
      if (total !== null) ticks.set(pid, total);
    }
    return ticks;
  }
}

/** CPU seconds (user + system) a local process has used so far; null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const ticks = processTicks(pid);
  return ticks === null ? null : ticks / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU seconds of a Node process's main thread (the one running JavaScript and serving requests; its other
 * threads are the garbage collector's helpers and libuv's pool); null when it is gone.
 */
export function mainThreadCpuSeconds(pid: number): number | null {
  const ticks = processTicks(pid, `/proc/${pid}/task/${pid}/stat`);
  return ticks === null ? null : ticks / CLOCK_TICKS_PER_SECOND;
}

/** The machine's CPU ticks so far, all CPUs: idle (idle + iowait) and total. */
export interface MachineTicks {
  idle: number;
  total: number;
}

/** Read from /proc/stat. */
export function machineTicks(): MachineTicks {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3] + fields[4], total: fields.reduce((sum, n) => sum + n, 0) };
}

/** Share of the machine's CPU time that was busy between two `machineTicks()` readings (0..1). */
export function busyShare(before: MachineTicks, after: MachineTicks): number {
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

/** utime + stime of a process (or thread), from its stat file (fields 14 and 15, after the parenthesised name). */
function processTicks(pid: number, file = `/proc/${pid}/stat`): number | null {
  try {
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}
