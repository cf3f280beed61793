import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export const SEVERITIES = ['info', 'notice', 'warning', 'critical'] as const;
export const STATUSES = ['success', 'failure'] as const;

/** The filters shared by listing, export and activity. Time range is [from, to). */
export class EventFiltersQuery {
  @ApiPropertyOptional({
    description: 'Only with audit:read:all; audit:read is always limited to its own org',
  })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  organizationId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(256)
  actorId?: string;

  @ApiPropertyOptional({ example: 'account' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  resourceType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(256)
  resourceId?: string;

  @ApiPropertyOptional({
    example: 'update',
    description: 'create, read, list, update, delete or a custom action',
  })
  @IsOptional()
  @Matches(/^[a-z][a-z0-9_.:-]{0,63}$/, { message: 'action must be a lowercase action name' })
  action?: string;

  @ApiPropertyOptional({ example: 'account.update' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.:-]{1,256}$/, { message: 'eventType must be letters, digits and . _ : -' })
  eventType?: string;

  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @ApiPropertyOptional({ enum: SEVERITIES })
  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: (typeof SEVERITIES)[number];

  @ApiPropertyOptional({ description: 'Inclusive lower bound, ISO 8601', example: '2026-11-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 date-time' })
  from?: string;

  @ApiPropertyOptional({ description: 'Exclusive upper bound, ISO 8601', example: '2026-12-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 date-time' })
  to?: string;

  @ApiPropertyOptional({
    description: 'Full-text search (web search syntax) over event type, resource and states',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  q?: string;
}
