import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';

export const STATS_GROUPS = ['day', 'action', 'resourceType', 'organization'] as const;

export class StatsQuery {
  @ApiPropertyOptional({ description: 'Inclusive, ISO 8601 date or date-time (whole UTC days are counted)' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 date' })
  from?: string;

  @ApiPropertyOptional({ description: 'Exclusive, ISO 8601 date or date-time' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 date' })
  to?: string;

  @ApiPropertyOptional({ enum: STATS_GROUPS, default: 'day' })
  @IsOptional()
  @IsIn(STATS_GROUPS)
  groupBy?: (typeof STATS_GROUPS)[number];

  @ApiPropertyOptional({ description: 'Only with audit:read:all' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  organizationId?: string;
}
