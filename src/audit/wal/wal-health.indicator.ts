import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { WalCaptureService } from './wal-capture.service';

/**
 * The `wal` capture slot, for a readiness probe: down when the slot is missing, invalidated, too far behind
 * (`maxLagBytes`) or keeping more WAL on the server than `maxRetainedBytes` (its consumer stopped or too slow:
 * the server's disk is filling). Details: lag and retained bytes, and whether this process reads the slot.
 */
@Injectable()
export class AuditWalHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly wal: WalCaptureService,
  ) {}

  async isHealthy<K extends string>(key: K) {
    const status = await this.wal.poll();
    const details = {
      slot: status.slot,
      consuming: status.consuming,
      lagBytes: status.state?.lagBytes ?? null,
      retainedBytes: status.state?.retainedBytes ?? null,
      walStatus: status.state?.walStatus ?? null,
    };
    const check = this.indicator.check(key);
    return status.problem ? check.down({ ...details, message: status.problem }) : check.up(details);
  }
}
