import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { APP_CONFIG } from 'src/common/config/app-config.module';
import { AppConfig } from 'src/common/config/environment';
import { partitionsAhead } from 'src/partitions/partition-naming';
import { PartitionRepository } from 'src/partitions/partition.repository';

const HOUR_MS = 60 * 60 * 1000;

/**
 * Keeps the partition of the current month and `AUDIT_PARTITION_PREMAKE` ahead in place: at boot and
 * hourly, on one replica at a time. (The full lifecycle, DEFAULT clean-up and archival are separate jobs.)
 */
@Injectable()
export class PartitionService implements OnApplicationBootstrap {
  private readonly logger = new Logger(PartitionService.name);

  constructor(
    private readonly partitions: PartitionRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureAhead();
  }

  @Interval('partitions-ahead', HOUR_MS)
  async tick(): Promise<void> {
    await this.ensureAhead().catch((error: Error) =>
      this.logger.error(`Partition maintenance failed: ${error.message}`),
    );
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
