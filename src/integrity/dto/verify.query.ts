import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsIsoTimestamp, IsSafeText } from '../../common/validation';

export class VerifyQuery {
  @ApiPropertyOptional({ description: 'Start of the event-time range (inclusive), ISO 8601' })
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  @ApiPropertyOptional({ description: 'End of the event-time range (exclusive), ISO 8601' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @ApiPropertyOptional({ description: 'Organization (another one requires audit:read:all); default: own' })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}
