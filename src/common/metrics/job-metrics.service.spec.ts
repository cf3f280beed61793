import { JobMetrics } from './job-metrics.service';
import { MetricsService } from './metrics.service';

describe('JobMetrics.track', () => {
  let metrics: MetricsService;
  let jobs: JobMetrics;
  const value = async (name: string, job: string) =>
    (await metrics.registry.getSingleMetric(name)!.get()).values.find(
      (v) => v.labels.job_name === job && (!('le' in v.labels) || v.labels.le === '+Inf'),
    )?.value;

  beforeEach(() => {
    metrics = new MetricsService();
    jobs = new JobMetrics(metrics);
  });

  it('counts and times a run and returns its result', async () => {
    await expect(jobs.track('cleanup', async () => 42)).resolves.toBe(42);
    expect(await value('audit_job_runs_total', 'cleanup')).toBe(1);
    expect(await value('audit_job_failures_total', 'cleanup')).toBe(0);
    expect(await value('audit_job_duration_seconds', 'cleanup')).toBe(1); // the +Inf bucket: one run
  });

  it('counts a failed run, times it, and rethrows the error unchanged', async () => {
    const boom = new Error('boom');
    await expect(
      jobs.track('cleanup', async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await value('audit_job_runs_total', 'cleanup')).toBe(1);
    expect(await value('audit_job_failures_total', 'cleanup')).toBe(1);
    expect(await value('audit_job_duration_seconds', 'cleanup')).toBe(1);
  });

  it('keeps one series per job', async () => {
    await jobs.track('a', async () => undefined);
    await jobs.track('a', async () => undefined);
    await jobs.track('b', async () => undefined);
    expect(await value('audit_job_runs_total', 'a')).toBe(2);
    expect(await value('audit_job_runs_total', 'b')).toBe(1);
  });

  it('lets two apps in one process have their own registries', () => {
    expect(() => new JobMetrics(new MetricsService())).not.toThrow();
  });
});
