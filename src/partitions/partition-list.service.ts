import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import {
  DEFAULT_PARTITION,
  HOT_PARENT,
  PartitionRepository,
  PartitionStats,
  WARM_PARENT,
} from './partition.repository';

export interface PartitionView {
  name: string;
  tier: 'hot' | 'warm' | 'default';
  from: string | null;
  to: string | null;
  rows: number;
  rowsExact: boolean;
  bytes: number;
  beyondHorizon?: number;
}

/** The partitions report: every hot and warm partition and DEFAULT, oldest first. */
@Injectable()
export class PartitionListService {
  constructor(
    private readonly partitions: PartitionRepository,
    private readonly clock: Clock,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
  ) {}

  async list(exact: boolean): Promise<PartitionView[]> {
    const all = [
      ...(await this.partitions.stats(undefined, HOT_PARENT)),
      ...(await this.partitions.stats(undefined, WARM_PARENT)),
    ].sort((a, b) => (a.from?.getTime() ?? Infinity) - (b.from?.getTime() ?? Infinity));
    const views: PartitionView[] = [];
    for (const p of all) views.push(await this.view(p, exact));
    return views;
  }

  private async view(p: PartitionStats, exact: boolean): Promise<PartitionView> {
    const isDefault = p.name === DEFAULT_PARTITION;
    // DEFAULT is small when healthy and matters most: always counted exactly.
    const counted = exact || isDefault;
    const view: PartitionView = {
      name: p.name,
      tier: isDefault ? 'default' : p.parent === WARM_PARENT ? 'warm' : 'hot',
      from: p.from?.toISOString() ?? null,
      to: p.to?.toISOString() ?? null,
      rows: counted ? await this.partitions.countRows(p.name) : p.estimatedRows,
      rowsExact: counted,
      bytes: p.bytes,
    };
    if (isDefault) {
      const horizon = new Date(
        this.clock.now().getTime() + this.config.audit.partitionHorizonDays * 86_400_000,
      );
      view.beyondHorizon = await this.partitions.countBeyondHorizon(horizon);
    }
    return view;
  }
}
