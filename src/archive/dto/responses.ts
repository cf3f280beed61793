import { ApiProperty } from '@nestjs/swagger';

export class ArchiveViewDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'audit_events_p2025_01' }) partition!: string;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ enum: ['exporting', 'exported', 'cold', 'expired'] }) state!: string;
  @ApiProperty({ nullable: true, type: Number }) rows!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Compressed archive size' }) bytes!:
    number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Size of the table it came from' })
  tableBytes!: number | null;
  @ApiProperty({ nullable: true, type: String }) sha256!: string | null;
  @ApiProperty({ enum: ['ndjson', 'parquet'], description: 'parquet: dataKey is the folder of the files' })
  format!: string;
  @ApiProperty() storageUrl!: string;
  @ApiProperty() dataKey!: string;
  @ApiProperty() manifestKey!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) exportedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) droppedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) expiredAt!: string | null;
}

export class ArchiveReportDto {
  @ApiProperty() dryRun!: boolean;
  @ApiProperty({ format: 'date-time' }) now!: string;
  @ApiProperty({ type: [String] }) warmed!: string[];
  @ApiProperty({ type: 'array', items: { type: 'object' } }) archived!: object[];
  @ApiProperty({ type: 'array', items: { type: 'object' } }) expired!: object[];
  @ApiProperty({ type: 'array', items: { type: 'object' } }) deferred!: object[];
}

export class RestoreResultDto {
  @ApiProperty({ format: 'uuid' }) archiveId!: string;
  @ApiProperty() partition!: string;
  @ApiProperty({ description: 'Table holding the restored rows' }) table!: string;
  @ApiProperty() rows!: number;
  @ApiProperty() sha256!: string;
  @ApiProperty({ description: 'True: verified only, nothing loaded' }) dryRun!: boolean;
}
