import { ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsBoundedInt, IsSafeText } from '../../common/validation';
import { EventFiltersQuery } from './event-filters.query';

export const MAX_LIMIT = 1000;

/** Keyset pagination: `limit` and the opaque `cursor` of the previous page's `nextCursor`. */
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: 50 })
  @IsOptional()
  @IsBoundedInt(1, MAX_LIMIT)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsSafeText(512)
  cursor?: string;
}

export class ListEventsQuery extends IntersectionType(EventFiltersQuery, PageQuery) {}

/** A grouping read (one request's or one transaction's events): a page, optionally of another organization. */
export class GroupPageQuery extends PageQuery {
  @ApiPropertyOptional({
    description: 'Only with audit:read:all; audit:read is always limited to its own org',
  })
  @IsOptional()
  @IsSafeText(256)
  organizationId?: string;
}
