import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { IsIsoTimestamp, IsSafeText } from '../../common/validation';

export const SEVERITIES = ['info', 'notice', 'warning', 'critical'] as const;
export const STATUSES = ['success', 'failure'] as const;

/** The filters shared by listing, export and activity. Time range is [from, to). */
export class EventFiltersQuery {
  @ApiPropertyOptional({
    description: 'Only with audit:read:all; audit:read is always limited to its own org',
  })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsSafeText(256)
  actorId?: string;

  @ApiPropertyOptional({ example: 'account' })
  @IsOptional()
  @IsSafeText(256)
  resourceType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsSafeText(256)
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
  @IsIsoTimestamp()
  from?: string;

  @ApiPropertyOptional({ description: 'Exclusive upper bound, ISO 8601', example: '2026-12-01T00:00:00Z' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @ApiPropertyOptional({
    description: 'Full-text search (web search syntax) over event type, resource and states',
  })
  @IsOptional()
  @IsSafeText(200)
  q?: string;

  @ApiPropertyOptional({
    description: 'Events whose reason (X-Audit-Reason, metadata.reason) contains this text, ignoring case',
    example: 'ticket 4711',
  })
  @IsOptional()
  @IsSafeText(200)
  reason?: string;
}
