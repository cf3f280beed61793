import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IsIsoTimestamp, IsSafeText } from '../../common/validation';

export const STATS_GROUPS = ['day', 'action', 'resourceType', 'organization'] as const;

export class StatsQuery {
  @ApiPropertyOptional({ description: 'Inclusive, ISO 8601 date or date-time (whole UTC days are counted)' })
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  @ApiPropertyOptional({ description: 'Exclusive, ISO 8601 date or date-time' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @ApiPropertyOptional({ enum: STATS_GROUPS, default: 'day' })
  @IsOptional()
  @IsIn(STATS_GROUPS)
  groupBy?: (typeof STATS_GROUPS)[number];

  @ApiPropertyOptional({ description: 'Only with audit:read:all' })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}
