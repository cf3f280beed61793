import { Client } from 'pg';
import { processCpuSeconds } from './cpu';

/** A Postgres backend of the benchmark database, as pg_stat_activity names it. */
interface Backend {
  pid: number;
  backendType: string;
  application: string;
}

/** CPU seconds of the database's backends over a span, by group (see BackendCpuMeter). */
export type BackendCpu = Record<string, number>;

/**
 * CPU of the Postgres backends of one database between start() and stop(), read from /proc (so only for a
 * server on this machine), summed by a group the caller derives from each backend's type and application
 * name (e.g. the walsender that decodes a slot apart from the sessions that write). A backend that starts
 * during the span counts whole; one that exits before stop() is not counted: stop before ending processes.
 * `exclude`: backends left out (the benchmark's own connection, which polls during drains).
 */
export class BackendCpuMeter {
  private before = new Map<number, number>();

  constructor(
    private readonly sql: Client,
    private readonly group: (backend: Backend) => string,
    private readonly exclude: ReadonlySet<number> = new Set(),
  ) {}

  async start(): Promise<void> {
    this.before = new Map((await this.read()).map(({ pid, seconds }) => [pid, seconds]));
  }

  /** Seconds by group; null when no backend could be read (a remote server). */
  async stop(): Promise<BackendCpu | null> {
    const after = await this.read();
    if (after.length === 0) return null;
    const groups: BackendCpu = {};
    for (const { backend, pid, seconds } of after) {
      const key = this.group(backend);
      groups[key] = (groups[key] ?? 0) + seconds - (this.before.get(pid) ?? 0);
    }
    for (const key of Object.keys(groups)) groups[key] = Number(groups[key].toFixed(2));
    return groups;
  }

  private async read(): Promise<Array<{ backend: Backend; pid: number; seconds: number }>> {
    const { rows } = await this.sql.query<{ pid: number; backend_type: string; application_name: string }>(
      `SELECT pid, backend_type, application_name FROM pg_stat_activity WHERE datname = current_database()`,
    );
    return rows.flatMap((row) => {
      if (this.exclude.has(row.pid)) return [];
      const seconds = processCpuSeconds(row.pid);
      if (seconds === null) return [];
      const backend = { pid: row.pid, backendType: row.backend_type, application: row.application_name };
      return [{ backend, pid: row.pid, seconds }];
    });
  }
}

export const sumCpu = (cpu: BackendCpu | null): number | null =>
  cpu === null
    ? null
    : Number(
        Object.values(cpu)
          .reduce((sum, s) => sum + s, 0)
          .toFixed(2),
      );
