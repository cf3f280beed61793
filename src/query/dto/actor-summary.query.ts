import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsIsoTimestamp, IsSafeText } from '../../common/validation';

/** An actor's summary: [from, to), by default the last 30 days, at most 366 days. */
export class ActorSummaryQuery {
  @ApiPropertyOptional({ description: 'Inclusive, ISO 8601; default `to` minus 30 days' })
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  @ApiPropertyOptional({ description: 'Exclusive, ISO 8601; default now' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @ApiPropertyOptional({
    description: 'Only with audit:read:all; audit:read is always limited to its own org',
  })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}
