import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export class EraseSubjectParams {
  @ApiProperty({
    description:
      'The data subject: `<resourceType>:<resourceId>` for a resource (e.g. `account:42`), or an actor id',
  })
  @IsString()
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  @Matches(/^[^\u0000-\u001f\u007f]{1,256}$/, {
    message: 'subjectId must be 1-256 characters without control characters',
  })
  subjectId!: string;
}

export class EraseSubjectQuery {
  @ApiPropertyOptional({ description: 'Organization (another one requires audit:read:all); default: own' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  organizationId?: string;
}

export class ErasureResultDto {
  @ApiProperty({ nullable: true, type: String }) organizationId!: string | null;
  @ApiProperty() subjectId!: string;
  @ApiProperty({ description: 'Subject keys destroyed now (0 when none was left)' }) keysDestroyed!: number;
  @ApiProperty({ description: 'ISO 8601' }) erasedAt!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Id of the audit event recording the erasure' })
  eventId!: string | null;
}
