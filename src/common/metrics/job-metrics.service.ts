import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { MetricsService } from './metrics.service';

// `job_name`, not `job`: Prometheus sets its own `job` label on every scraped series and would rename ours
// to `exported_job` (or, with honor_labels, overwrite the target's).
type JobLabel = 'job_name';

/** Runs, failures and durations of the background jobs, one series per job name. */
@Injectable()
export class JobMetrics {
  private readonly runs: Counter<JobLabel>;
  private readonly failures: Counter<JobLabel>;
  private readonly duration: Histogram<JobLabel>;

  constructor(metrics: MetricsService) {
    this.runs = metrics.counter({
      name: 'audit_job_runs_total',
      help: 'Background job runs started on this instance',
      labelNames: ['job_name'],
    });
    this.failures = metrics.counter({
      name: 'audit_job_failures_total',
      help: 'Background job runs that threw',
      labelNames: ['job_name'],
    });
    this.duration = metrics.histogram({
      name: 'audit_job_duration_seconds',
      help: 'Duration of background job runs, failed ones included',
      labelNames: ['job_name'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    });
  }

  /** Runs `work` as one run of `job`: counted and timed; a failure is counted and rethrown to the job. */
  async track<T>(job: string, work: () => Promise<T>): Promise<T> {
    const labels = { job_name: job };
    this.runs.inc(labels);
    this.failures.inc(labels, 0); // the series exists from the first run: rate() and alerts see a 0, not nothing
    const stop = this.duration.startTimer(labels);
    try {
      return await work();
    } catch (error) {
      this.failures.inc(labels);
      throw error;
    } finally {
      stop();
    }
  }
}
