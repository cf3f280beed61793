import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsSafeText } from '../../common/validation';

export class EraseSubjectParams {
  @ApiProperty({
    description:
      'The data subject: `<resourceType>:<resourceId>` for a resource (e.g. `account:42`), or an actor id',
  })
  @IsSafeText(256)
  subjectId!: string;
}

export class EraseSubjectQuery {
  @ApiPropertyOptional({ description: 'Organization (another one requires audit:read:all); default: own' })
  @IsOptional()
  @IsSafeText(256)
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
