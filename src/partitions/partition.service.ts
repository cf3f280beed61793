import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { JobMetrics } from '../common/metrics/job-metrics.service';
import { trackJob } from '../common/scheduling/jobs';
import { LifecycleRunRepository } from './lifecycle-run.repository';
import { PartitionMetrics } from './partition.metrics';
import { overlaps, partitionFor, PartitionRange, partitionsAhead } from './partition-naming';
import {
  DEFAULT_PARTITION,
  PartitionInfo,
  PartitionRepository,
  ranged,
  WARM_PARENT,
} from './partition.repository';

const DAY_MS = 86_400_000;
export const MAINTENANCE_JOB = 'partition-maintenance';
const INDEXING_JOB = 'partition-search-index';

/** What a maintenance run did (or, dry, would do). */
export interface MaintenanceReport {
  dryRun: boolean;
  /** Partitions created ahead of time. */
  created: string[];
  /** DEFAULT rows moved into their partition (`into` is a new hot partition or the warm parent). */
  moved: Array<{ partition: string; into: string; rows: number }>;
  /** DEFAULT rows whose range overlaps an existing partition only partly (granularity changed): left. */
  conflicts: Array<{ partition: string; rows: number }>;
  /** DEFAULT rows later than the horizon: left in DEFAULT, never given a partition. */
  beyondHorizon: number;
  horizon: string;
}

/**
 * Partition maintenance, at boot and every `AUDIT_PARTITION_INTERVAL_MS`, on one replica at a time:
 * keeps the current partition and `AUDIT_PARTITION_PREMAKE` ahead, moves stray rows out of DEFAULT, and
 * builds the full-text index of closed partitions. Every run is recorded in `audit_lifecycle_runs`.
 */
@Injectable()
export class PartitionService {
  private readonly logger = new Logger(PartitionService.name);

  constructor(
    private readonly partitions: PartitionRepository,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
    private readonly clock: Clock,
    private readonly runs: LifecycleRunRepository,
    // Optional: benchmarks and the CLI build this service without metrics.
    @Optional() private readonly jobs?: JobMetrics,
    @Optional() private readonly metrics?: PartitionMetrics,
  ) {}

  /** One scheduled run: maintenance, then the search indexes. Failures are logged and counted, not thrown. */
  async tick(): Promise<void> {
    await this.maintainTracked();
    await this.indexInBackground();
  }

  async maintainTracked(): Promise<void> {
    await trackJob(this.jobs, MAINTENANCE_JOB, () => this.maintain()).catch((error: Error) =>
      this.logger.error(`Partition maintenance failed: ${error.message}`),
    );
  }

  /**
   * One maintenance run: partitions ahead, then DEFAULT's rows. Null when another replica holds the lock.
   * A dry run computes the same plan and changes nothing.
   */
  maintain(dryRun = false): Promise<MaintenanceReport | null> {
    return this.runs.recorded(MAINTENANCE_JOB, dryRun, () =>
      this.partitions.withMaintenanceLock(async (manager) => {
        const now = this.clock.now();
        const { partitionGranularity: granularity, partitionPremake } = this.config.audit;
        const hot = await this.partitions.partitions(manager);
        const warm = await this.partitions.partitions(manager, WARM_PARENT);
        const horizon = new Date(now.getTime() + this.config.audit.partitionHorizonDays * DAY_MS);

        const created = partitionsAhead(now, partitionPremake, 'audit_events', granularity).filter(
          (range) => !ranged(hot).some((p) => overlaps(range, p)),
        );
        const report: MaintenanceReport = {
          dryRun,
          created: created.map((p) => p.name),
          moved: [],
          conflicts: [],
          beyondHorizon: await this.partitions.countBeyondHorizon(horizon, manager),
          horizon: horizon.toISOString(),
        };
        // DEFAULT first: a premade range must not be created while DEFAULT still holds rows of it.
        for (const bucket of await this.partitions.defaultBuckets(manager, granularity, horizon)) {
          const range = partitionFor(bucket.start, granularity);
          const home = placeOf(range, hot, warm);
          if (home === 'conflict') {
            report.conflicts.push({ partition: range.name, rows: bucket.rows });
            continue;
          }
          const into = home === 'warm' ? WARM_PARENT : range.name;
          const rows = dryRun
            ? bucket.rows
            : home === 'warm'
              ? await this.partitions.moveDefaultRows(manager, range, WARM_PARENT)
              : await this.partitions.moveDefaultIntoNewPartition(manager, range);
          report.moved.push({ partition: range.name, into, rows });
          if (home === 'new') hot.push({ ...range, hasSearchIndex: false });
        }
        if (!dryRun) {
          for (const range of created)
            if (!report.moved.some((m) => m.partition === range.name))
              await this.partitions.create(manager, range);
        }
        this.report(report);
        return report;
      }),
    );
  }

  /** Compatibility with the keep-ahead API: names of created partitions, null when another replica ran. */
  async ensureAhead(): Promise<string[] | null> {
    return (await this.maintain())?.created ?? null;
  }

  private report(report: MaintenanceReport): void {
    if (!report.dryRun) {
      this.metrics?.beyondHorizon.set(report.beyondHorizon);
      for (const move of report.moved) this.metrics?.moved.inc(move.rows);
    }
    const verb = report.dryRun ? 'would ' : '';
    if (report.created.length > 0) this.logger.log(`${verb}create partitions ${report.created.join(', ')}`);
    for (const move of report.moved)
      this.logger.warn(`${verb}move ${move.rows} rows from ${DEFAULT_PARTITION} into ${move.into}`);
    for (const conflict of report.conflicts)
      this.logger.warn(
        `${conflict.rows} rows of ${conflict.partition} stay in ${DEFAULT_PARTITION}: their range overlaps a partition of another granularity`,
      );
    if (report.beyondHorizon > 0)
      this.logger.warn(
        `${report.beyondHorizon} rows in ${DEFAULT_PARTITION} are later than the horizon ${report.horizon}: kept there, no partition created`,
      );
  }

  /**
   * Builds the full-text index of every partition whose range is over (and of DEFAULT), which no longer
   * takes the bulk of the writes. Returns the partitions indexed.
   */
  async indexClosedPartitions(now = this.clock.now()): Promise<string[]> {
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

  async indexInBackground(): Promise<void> {
    await trackJob(this.jobs, INDEXING_JOB, () => this.indexClosedPartitions()).catch((error: Error) =>
      this.logger.error(`Search indexing failed: ${error.message}`),
    );
  }

  /**
   * Partitions that should exist and do not: the current one and the following `ahead` (readiness).
   * Later ones are the job's slack, so their absence alone is no reason to stop taking traffic.
   */
  async missing(now = this.clock.now(), ahead = 1): Promise<string[]> {
    const hot = ranged(await this.partitions.partitions());
    return partitionsAhead(now, ahead, 'audit_events', this.config.audit.partitionGranularity)
      .filter((range) => !hot.some((p) => p.from <= range.from && range.to <= p.to))
      .map((range) => range.name);
  }
}

/**
 * Where DEFAULT's rows of `range` go: a new hot partition, the warm partition covering the range, or
 * nowhere (the range overlaps an existing partition without being inside one).
 */
function placeOf(range: PartitionRange, hot: PartitionInfo[], warm: PartitionInfo[]) {
  if (ranged(warm).some((p) => p.from <= range.from && range.to <= p.to)) return 'warm' as const;
  if ([...ranged(hot), ...ranged(warm)].some((p) => overlaps(range, p))) return 'conflict' as const;
  return 'new' as const;
}
