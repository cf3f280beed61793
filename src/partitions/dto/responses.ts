import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class PartitionViewDto {
  @ApiProperty({ example: 'audit_events_p2026_11' }) name!: string;
  @ApiProperty({ enum: ['hot', 'warm', 'default'] }) tier!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) from!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) to!: string | null;
  @ApiProperty({ description: 'Exact with ?exact=true, else the planner estimate (-1: never analyzed)' })
  rows!: number;
  @ApiProperty() rowsExact!: boolean;
  @ApiProperty({ description: 'Heap, TOAST and indexes' }) bytes!: number;
  @ApiPropertyOptional({ description: 'DEFAULT only: rows later than the horizon (kept there)' })
  beyondHorizon?: number;
}

export class MaintenanceReportDto {
  @ApiProperty() dryRun!: boolean;
  @ApiProperty({ type: [String] }) created!: string[];
  @ApiProperty({ type: 'array', items: { type: 'object' } }) moved!: object[];
  @ApiProperty({ type: 'array', items: { type: 'object' } }) conflicts!: object[];
  @ApiProperty() beyondHorizon!: number;
  @ApiProperty({ format: 'date-time' }) horizon!: string;
}
