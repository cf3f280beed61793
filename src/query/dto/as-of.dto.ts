import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsIsoTimestamp, IsSafeText } from '../../common/validation';
import { FieldChangeDto } from './responses';

const ORGANIZATION = {
  description: 'Only with audit:read:all; audit:read is always limited to its own org',
};

export class AsOfQuery {
  @ApiProperty({ description: 'The instant (inclusive), ISO 8601', example: '2026-11-01T10:00:00Z' })
  @IsIsoTimestamp()
  at!: string;

  @ApiPropertyOptional(ORGANIZATION)
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}

export class AsOfDiffQuery {
  @ApiProperty({ description: 'The earlier instant, ISO 8601', example: '2026-11-01T00:00:00Z' })
  @IsIsoTimestamp()
  from!: string;

  @ApiProperty({ description: 'The later instant, ISO 8601', example: '2026-12-01T00:00:00Z' })
  @IsIsoTimestamp()
  to!: string;

  @ApiPropertyOptional(ORGANIZATION)
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}

export class AsOfVersionDto {
  @ApiProperty({ format: 'uuid', description: 'The event that made this state' }) eventId!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({ example: 'update' }) action!: string;
  @ApiProperty({ nullable: true, type: String }) actorId!: string | null;
}

export class AsOfDto {
  @ApiProperty({ example: 'account' }) resourceType!: string;
  @ApiProperty() resourceId!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ description: 'false before the first event, and after a delete' }) exists!: boolean;
  @ApiProperty({
    nullable: true,
    type: Object,
    description:
      'The state at `at` (redacted; personal values decrypted, or [erased]); null when it does not exist',
  })
  state!: unknown;
  @ApiProperty({ nullable: true, type: AsOfVersionDto, description: 'null: no history before at' })
  version!: AsOfVersionDto | null;
  @ApiProperty({ description: 'State-bearing events of the resource at or before `at`' })
  versionsBefore!: number;
  @ApiPropertyOptional({ enum: ['no history before at', 'deleted'], description: 'Why exists is false' })
  reason?: string;
}

export class AsOfDiffDto {
  @ApiProperty({ type: AsOfDto }) from!: AsOfDto;
  @ApiProperty({ type: AsOfDto }) to!: AsOfDto;
  @ApiProperty({ type: [FieldChangeDto], description: 'From the state at `from` to the state at `to`' })
  changes!: FieldChangeDto[];
}
