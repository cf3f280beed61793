import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { partitionsAhead } from '../partitions/partition-naming';
import { PartitionService } from '../partitions/partition.service';

/**
 * The partitions of the current and the next month exist. Without them events land in the DEFAULT
 * partition (slow to move out later), so the keep-ahead job has been failing for a while.
 */
@Injectable()
export class PartitionsHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly partitions: PartitionService,
  ) {}

  present<K extends string>(key: K, timeoutMs: number) {
    return this.indicator
      .check(key)
      .attempt(async () => {
        const now = new Date();
        const missing = await this.partitions.missing(now, 1);
        if (missing.length > 0) throw new Error(`missing partitions: ${missing.join(', ')}`);
        return { present: partitionsAhead(now, 1).map((p) => p.name) };
      })
      .withTimeout(timeoutMs);
  }
}
