import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsUUID, Matches } from 'class-validator';
import { IsSafeText } from '../../common/validation';

export class RevertResourceParams {
  @ApiProperty({ example: 'account', description: 'Resource type, as recorded on events' })
  @IsSafeText(256)
  type!: string;

  @ApiProperty()
  @IsSafeText(256)
  id!: string;
}

export class RevertRequestParams {
  @ApiProperty({ description: 'The request id (X-Request-Id) whose mutations are undone' })
  @Matches(/^[A-Za-z0-9._:-]{1,128}$/, {
    message: 'requestId must be 1-128 characters of letters, digits, ".", "_", ":" or "-"',
  })
  requestId!: string;
}

class RevertOptionsBody {
  @ApiPropertyOptional({ description: 'Compute and show the diff; change nothing. Default false' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;

  @ApiPropertyOptional({ description: 'Why: recorded in the revert event (metadata.reason)' })
  @IsOptional()
  @IsSafeText(500)
  reason?: string;

  @ApiPropertyOptional({ description: 'Organization (another one requires audit:read:all); default: own' })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}

export class RevertResourceBody extends RevertOptionsBody {
  @ApiPropertyOptional({
    description: 'Restore the record as this event left it (exclusive with undoEventId)',
  })
  @IsOptional()
  @IsUUID('all', { message: 'toEventId must be a UUID' })
  toEventId?: string;

  @ApiPropertyOptional({ description: 'Undo this one update: the fields it changed go back to their before' })
  @IsOptional()
  @IsUUID('all', { message: 'undoEventId must be a UUID' })
  undoEventId?: string;
}

export class RevertRequestBody extends RevertOptionsBody {}
