import { Injectable } from '@nestjs/common';
import { AuthUser } from '../common/auth/auth.types';
import { StatsQuery } from './dto/stats.query';
import { QueryCache } from './query-cache.service';
import { StatsRepository, StatsRow } from './stats.repository';
import { organizationScope } from '../common/auth/tenant-scope';
import { BadRequestException } from '@nestjs/common';

const DEFAULT_TOP_ACTORS = 10;

export interface StatsResponse {
  groupBy: string;
  items: StatsRow[];
  /** When the underlying views were last refreshed; the figures are as of then. */
  refreshedAt: string | null;
  stalenessSeconds: number | null;
}

@Injectable()
export class StatsService {
  constructor(
    private readonly stats: StatsRepository,
    private readonly cache: QueryCache,
  ) {}

  async get(user: AuthUser, query: StatsQuery): Promise<StatsResponse> {
    const organizationId = organizationScope(user, query.organizationId);
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from > to) throw new BadRequestException(['from must be before to']);
    const groupBy = query.groupBy ?? 'day';
    if (query.limit !== undefined && groupBy !== 'actor')
      throw new BadRequestException(['limit is only allowed with groupBy=actor']);
    const limit = query.limit ?? DEFAULT_TOP_ACTORS;
    // One cache entry per group, range and (top actors) limit.
    const key = JSON.stringify(groupBy === 'actor' ? [groupBy, from, to, limit] : [groupBy, from, to]);
    const read = (): Promise<StatsRow[]> =>
      groupBy === 'dayAction'
        ? this.stats.byDayAndAction(organizationId, from, to)
        : groupBy === 'actor'
          ? this.stats.topActors(organizationId, limit, from, to)
          : this.stats.grouped(groupBy, organizationId, from, to);
    const { items, refreshedAt } = await this.cache.wrapStats(organizationId, key, async () => ({
      items: await read(),
      refreshedAt: (await this.stats.refreshedAt())?.toISOString() ?? null,
    }));
    return {
      groupBy,
      items,
      refreshedAt,
      stalenessSeconds: refreshedAt
        ? Math.max(0, Math.round((Date.now() - Date.parse(refreshedAt)) / 1000))
        : null,
    };
  }
}
