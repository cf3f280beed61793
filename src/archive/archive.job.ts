import { Inject, Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ARCHIVE_JOB, ArchiveService } from './archive.service';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { JobMetrics } from '../common/metrics/job-metrics.service';
import { scheduleEvery, trackJob } from '../common/scheduling/jobs';

/**
 * Runs the archive job every ARCHIVE_INTERVAL_MS (not at boot: a restart should not start an export).
 * Every replica ticks; the job's advisory lock lets one work. Failures are logged and counted.
 */
@Injectable()
export class ArchiveJob implements OnApplicationBootstrap {
  private readonly logger = new Logger(ArchiveJob.name);

  constructor(
    private readonly archives: ArchiveService,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
    @Optional() private readonly jobs?: JobMetrics,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.scheduler) return; // the CLI: runs on demand only
    scheduleEvery(this.scheduler, ARCHIVE_JOB, this.config.archive.intervalMs, () => void this.tick());
  }

  async tick(): Promise<void> {
    await trackJob(this.jobs, ARCHIVE_JOB, () => this.archives.run()).catch((error: Error) =>
      this.logger.error(`Archive run failed: ${error.message}`),
    );
  }
}
