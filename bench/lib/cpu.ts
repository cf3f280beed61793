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

/** utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, after the parenthesised name). */
function processTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}
