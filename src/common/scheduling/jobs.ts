import type { SchedulerRegistry } from '@nestjs/schedule';
import type { JobMetrics } from '../metrics/job-metrics.service';

/**
 * `work` as one run of `job`: counted and timed when metrics are available (the CLIs and benchmarks build the
 * services without them). A failure is rethrown.
 */
export function trackJob<T>(jobs: JobMetrics | undefined, job: string, work: () => Promise<T>): Promise<T> {
  return jobs ? jobs.track(job, work) : work();
}

/** Calls `tick` every `ms`, registered as `name` with the scheduler; unref'd: it never keeps the process alive. */
export function scheduleEvery(
  scheduler: SchedulerRegistry,
  name: string,
  ms: number,
  tick: () => void,
): void {
  const timer = setInterval(tick, ms);
  timer.unref();
  scheduler.addInterval(name, timer);
}
