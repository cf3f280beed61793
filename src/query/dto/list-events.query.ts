import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

/** Filters of `GET /audit/events` (the minimal set; the full query API extends it). */
export class ListEventsQuery {
  @IsOptional()
  @IsString()
  @MaxLength(256)
  organizationId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  actorId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  resourceType?: string;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  resourceId?: string;

  @IsOptional()
  @Matches(/^[a-z][a-z0-9_.:-]{0,63}$/, { message: 'action must be a lowercase action name' })
  action?: string;

  @IsOptional()
  @IsIn(['success', 'failure'])
  status?: 'success' | 'failure';

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}
