import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
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

  @ApiPropertyOptional({
    enum: ['ndjson'],
    description:
      'ndjson: stream application/x-ndjson lines instead: {"type":"start","totalEvents"}, ' +
      '{"type":"progress","checkedEvents","totalEvents"}..., then one {"type":"result",...report} or {"type":"error","message"}',
  })
  @IsOptional()
  @IsIn(['ndjson'])
  progress?: 'ndjson';
}

export class IntegrityStatusQuery {
  @ApiPropertyOptional({
    description:
      'Organization (another one requires audit:read:all); default: own, or with audit:read:all every chain',
  })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}
