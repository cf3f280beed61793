import { Inject, Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { APP_CONFIG } from 'src/common/config/app-config.module';
import { AppConfig } from 'src/common/config/environment';
import { JobMetrics } from 'src/common/metrics/job-metrics.service';
import { partitionsAhead } from 'src/partitions/partition-naming';
import { PartitionRepository } from 'src/partitions/partition.repository';

const HOUR_MS = 60 * 60 * 1000;
const MAINTENANCE_JOB = 'partition-maintenance';
const INDEXING_JOB = 'partition-search-index';

/**
 * Keeps the partition of the current month and `AUDIT_PARTITION_PREMAKE` ahead in place, and builds the
 * full-text index of closed months: at boot and hourly, on one replica at a time. (The full lifecycle,
 * DEFAULT clean-up and archival are separate jobs.)
 */
@Injectable()
export class PartitionService implements OnApplicationBootstrap {
  private readonly logger = new Logger(PartitionService.name);

  constructor(
    private readonly partitions: PartitionRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // Optional: the query benchmark builds this service by hand, without metrics.
    @Optional() private readonly jobs?: JobMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.track(MAINTENANCE_JOB, () => this.ensureAhead());
    // Index building can take a while on a large backlog: not on the start-up path.
    setImmediate(() => void this.indexInBackground());
  }

  @Interval('partitions-ahead', HOUR_MS)
  async tick(): Promise<void> {
    await this.track(MAINTENANCE_JOB, () => this.ensureAhead()).catch((error: Error) =>
      this.logger.error(`Partition maintenance failed: ${error.message}`),
    );
    await this.indexInBackground();
  }

  /**
   * Builds the full-text index of every partition whose month is over (and of DEFAULT), which no longer
   * takes the bulk of the writes. Returns the partitions indexed.
   */
  async indexClosedPartitions(now = new Date()): Promise<string[]> {
    const done: string[] = [];
    for (const partition of await this.partitions.partitions()) {
      const closed = partition.to === null || partition.to <= now;
      if (!closed || partition.hasSearchIndex) continue;
      const started = Date.now();
      if (!(await this.partitions.createSearchIndex(partition.name))) break; // another replica is on it
      this.logger.log(`Search index of ${partition.name} built in ${Date.now() - started} ms`);
      done.push(partition.name);
    }
    return done;
  }

  private async indexInBackground(): Promise<void> {
    await this.track(INDEXING_JOB, () => this.indexClosedPartitions()).catch((error: Error) =>
      this.logger.error(`Search indexing failed: ${error.message}`),
    );
  }

  /**
   * Partitions that should exist and do not: the current month's and the following `ahead` (readiness).
   * Later months are the job's slack, so their absence alone is no reason to stop taking traffic.
   */
  async missing(now = new Date(), ahead = 1): Promise<string[]> {
    const existing = new Set((await this.partitions.partitions()).map((p) => p.name));
    return partitionsAhead(now, ahead)
      .map((p) => p.name)
      .filter((name) => !existing.has(name));
  }

  private track<T>(job: string, work: () => Promise<T>): Promise<T> {
    return this.jobs ? this.jobs.track(job, work) : work();
  }

  /** Creates missing partitions; returns their names (null when another replica is doing it). */
  async ensureAhead(now = new Date()): Promise<string[] | null> {
    return this.partitions.withMaintenanceLock(async (manager) => {
      const existing = await this.partitions.existing(manager);
      const missing = partitionsAhead(now, this.config.audit.partitionPremake).filter(
        (p) => !existing.has(p.name),
      );
      for (const range of missing) await this.partitions.create(manager, range);
      if (missing.length > 0) this.logger.log(`Created partitions ${missing.map((p) => p.name).join(', ')}`);
      return missing.map((p) => p.name);
    });
  }
}
