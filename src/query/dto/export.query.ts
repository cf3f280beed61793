import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { EventFiltersQuery } from './event-filters.query';

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;

export class ExportQuery extends EventFiltersQuery {
  @ApiPropertyOptional({ enum: EXPORT_FORMATS, default: 'ndjson' })
  @IsOptional()
  @IsIn(EXPORT_FORMATS)
  format?: (typeof EXPORT_FORMATS)[number];
}
