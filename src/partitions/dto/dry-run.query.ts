import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' ? true : value === 'false' ? false : value;

/** `?dryRun=true`: report what the action would do, change nothing. */
export class DryRunQuery {
  @ApiPropertyOptional({ default: false, description: 'Report what would be done, change nothing' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'dryRun must be true or false' })
  dryRun?: boolean;
}

export class PartitionListQuery {
  @ApiPropertyOptional({ default: false, description: 'Exact row counts (count(*) per partition: slower)' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'exact must be true or false' })
  exact?: boolean;
}
