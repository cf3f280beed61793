import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IsBoundedInt, IsIsoTimestamp, IsSafeText } from '../../common/validation';

export const STATS_GROUPS = ['day', 'action', 'resourceType', 'organization', 'dayAction', 'actor'] as const;
export const MAX_TOP_ACTORS = 100;

export class StatsQuery {
  @ApiPropertyOptional({ description: 'Inclusive, ISO 8601 date or date-time (whole UTC days are counted)' })
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  @ApiPropertyOptional({ description: 'Exclusive, ISO 8601 date or date-time' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @ApiPropertyOptional({
    enum: STATS_GROUPS,
    default: 'day',
    description:
      '`dayAction`: one row per (day, action), `key` the day; `actor`: the top actors by events (last 90 days only)',
  })
  @IsOptional()
  @IsIn(STATS_GROUPS)
  groupBy?: (typeof STATS_GROUPS)[number];

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_TOP_ACTORS,
    default: 10,
    description: 'Only with groupBy=actor: how many actors',
  })
  @IsOptional()
  @IsBoundedInt(1, MAX_TOP_ACTORS)
  limit?: number;

  @ApiPropertyOptional({ description: 'Only with audit:read:all' })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}
