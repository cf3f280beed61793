import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsObject, IsOptional, IsUUID, Matches } from 'class-validator';
import { IsBoundedInt, IsIsoTimestamp, IsSafeText } from '../../common/validation';
import { DESTINATION_FORMATS, DESTINATION_KINDS } from '../streaming.types';

export class CreateDestinationBody {
  @ApiProperty({ description: 'Unique within the organization (letters, digits, . _ -)', example: 'siem' })
  @IsSafeText(100)
  name!: string;

  @ApiProperty({ enum: DESTINATION_KINDS })
  @IsIn(DESTINATION_KINDS)
  kind!: string;

  @ApiPropertyOptional({ enum: DESTINATION_FORMATS, description: 'Default json; cef only for syslog' })
  @IsOptional()
  @IsIn(DESTINATION_FORMATS)
  format?: string;

  @ApiPropertyOptional({
    description:
      'Platform operators only: the organization whose events go there (omitted: every organization). An organization admin always adds its own.',
  })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;

  @ApiPropertyOptional({ description: "The kind's settings (url, host, port, bucket...): README, Streaming" })
  @IsOptional()
  @IsObject()
  settings?: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      "The kind's secret settings (HMAC secret, token, API key...): sealed at rest, never returned",
  })
  @IsOptional()
  @IsObject()
  secret?: Record<string, string>;

  @ApiPropertyOptional({ enum: ['encrypted', 'clear'], description: 'Default encrypted' })
  @IsOptional()
  @IsIn(['encrypted', 'clear'])
  personalData?: string;

  @ApiPropertyOptional({ description: 'Deliver events from this instant (a backfill); default now' })
  @IsOptional()
  @IsIsoTimestamp()
  startFrom?: string;

  @ApiPropertyOptional({ description: 'Events read per batch, 1-10000; default 500' })
  @IsOptional()
  @IsBoundedInt(1, 10_000)
  batchSize?: number;
}

export class DestinationParams {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  id!: string;
}

export class DeadLettersQuery {
  @ApiPropertyOptional({ description: '1-1000, default 100' })
  @IsOptional()
  @IsBoundedInt(1, 1000)
  limit?: number;
}

export class ReplayBody {
  @ApiPropertyOptional({
    description: 'Dead letters to send again (default: all of the destination)',
    type: [String],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10_000)
  @Matches(/^\d{1,18}$/, { each: true, message: 'ids must be dead-letter ids (digits)' })
  ids?: string[];
}
