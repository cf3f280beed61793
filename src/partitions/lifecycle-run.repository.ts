import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export type RunOutcome = 'success' | 'failure' | 'skipped';

export interface LifecycleRun {
  id: number;
  job: string;
  dryRun: boolean;
  startedAt: Date;
  finishedAt: Date;
  outcome: RunOutcome;
  /** What the run did (or, dry, would do): created partitions, moved rows, archives... */
  actions: unknown;
  error: string | null;
}

/** The record of every lifecycle run (maintenance, archival, restore): what, when, outcome. */
@Injectable()
export class LifecycleRunRepository {
  constructor(private readonly dataSource: DataSource) {}

  async record(run: Omit<LifecycleRun, 'id'>): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO audit_lifecycle_runs (job, dry_run, started_at, finished_at, outcome, actions, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        run.job,
        run.dryRun,
        run.startedAt,
        run.finishedAt,
        run.outcome,
        JSON.stringify(run.actions ?? {}),
        run.error,
      ],
    );
  }

  async recent(job: string | undefined, limit = 50): Promise<LifecycleRun[]> {
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT id, job, dry_run, started_at, finished_at, outcome, actions, error FROM audit_lifecycle_runs
        WHERE $1::text IS NULL OR job = $1 ORDER BY id DESC LIMIT $2`,
      [job ?? null, limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      job: r.job as string,
      dryRun: r.dry_run as boolean,
      startedAt: r.started_at as Date,
      finishedAt: r.finished_at as Date,
      outcome: r.outcome as RunOutcome,
      actions: r.actions,
      error: r.error as string | null,
    }));
  }

  /**
   * Runs `work` and records the run, failed ones included (then rethrows). `work` returns null when another
   * replica held the lock: recorded as skipped. Times are wall-clock, not the injectable Clock.
   */
  async recorded<T extends object>(
    job: string,
    dryRun: boolean,
    work: () => Promise<T | null>,
  ): Promise<T | null> {
    const startedAt = new Date();
    try {
      const result = await work();
      await this.record({
        job,
        dryRun,
        startedAt,
        finishedAt: new Date(),
        outcome: result === null ? 'skipped' : 'success',
        actions: result ?? { reason: 'another instance holds the lock' },
        error: null,
      });
      return result;
    } catch (error) {
      await this.record({
        job,
        dryRun,
        startedAt,
        finishedAt: new Date(),
        outcome: 'failure',
        actions: {},
        error: (error as Error).message,
      }).catch(() => undefined); // the database may be what failed
      throw error;
    }
  }
}
