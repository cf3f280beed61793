import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { JobMetrics } from '../common/metrics/job-metrics.service';
import { scheduleEvery, trackJob } from '../common/scheduling/jobs';
import { QueryCache } from './query-cache.service';
import { StatsRepository } from './stats.repository';

const JOB = 'audit-stats-refresh';

/**
 * Refreshes the stats views every AUDIT_STATS_REFRESH_MS (and once at boot). The tick is trivial; the
 * work takes an advisory lock so only one replica refreshes; failures are logged, never thrown.
 */
@Injectable()
export class StatsRefreshJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StatsRefreshJob.name);
  private running?: Promise<void>;

  constructor(
    private readonly stats: StatsRepository,
    private readonly cache: QueryCache,
    private readonly scheduler: SchedulerRegistry,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
    @Optional() private readonly jobs?: JobMetrics,
  ) {}

  onApplicationBootstrap(): void {
    scheduleEvery(this.scheduler, JOB, this.config.query.statsRefreshMs, () => void this.run());
    void this.run();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.scheduler.doesExist('interval', JOB)) this.scheduler.deleteInterval(JOB);
    await this.running;
  }

  /** One refresh (skipped if one is already running here, or another replica holds the lock). */
  run(): Promise<void> {
    this.running ??= this.refresh().finally(() => (this.running = undefined));
    return this.running;
  }

  private async refresh(): Promise<void> {
    const started = Date.now();
    const work = async () => {
      if (await this.stats.refreshAll()) {
        this.cache.statsRefreshed();
        this.logger.debug(`Stats views refreshed in ${Date.now() - started} ms`);
      }
    };
    try {
      await trackJob(this.jobs, 'stats-refresh', work);
    } catch (error) {
      this.logger.error(`Stats refresh failed: ${(error as Error).message}`);
    }
  }
}
