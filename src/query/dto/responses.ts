import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** OpenAPI shapes of the responses (the runtime objects are built in event.view.ts and the services). */
export class FieldChangeDto {
  @ApiProperty({ example: 'plan' }) path!: string;
  @ApiPropertyOptional({ example: 'free' }) before?: unknown;
  @ApiPropertyOptional({ example: 'pro' }) after?: unknown;
  @ApiPropertyOptional({ description: 'The field is redacted: it changed, values not stored' })
  redacted?: boolean;
}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid', description: 'UUIDv7 (time-ordered)' }) id!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({ nullable: true, type: String }) organizationId!: string | null;
  @ApiProperty({ nullable: true, type: String }) actorId!: string | null;
  @ApiProperty({ enum: ['user', 'service', 'system', 'anonymous', 'database'] }) actorType!: string;
  @ApiProperty({ example: 'update', description: 'create | read | list | update | delete | custom' })
  action!: string;
  @ApiProperty({ example: 'account.update' }) eventType!: string;
  @ApiProperty({ nullable: true, type: String, example: 'account' }) resourceType!: string | null;
  @ApiProperty({ nullable: true, type: String }) resourceId!: string | null;
  @ApiProperty({ nullable: true, type: Object, description: 'State before the change (redacted)' })
  before!: unknown;
  @ApiProperty({ nullable: true, type: Object, description: 'State after the change (redacted)' })
  after!: unknown;
  @ApiProperty({ nullable: true, type: [FieldChangeDto] }) changes!: FieldChangeDto[] | null;
  @ApiProperty({ enum: ['success', 'failure'] }) status!: string;
  @ApiProperty({ nullable: true, type: Number }) statusCode!: number | null;
  @ApiProperty({ nullable: true, type: String }) errorMessage!: string | null;
  @ApiProperty({ enum: ['info', 'notice', 'warning', 'critical'] }) severity!: string;
  @ApiProperty({ nullable: true, type: String }) requestId!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Why, as given with the change (metadata.reason; X-Audit-Reason)',
  })
  reason!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '748213',
    description: 'Postgres transaction id (xid8) of a transactional capture (metadata.transactionId)',
  })
  transactionId!: string | null;
  @ApiProperty({ nullable: true, type: String }) ip!: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent!: string | null;
  @ApiProperty({ nullable: true, type: String, example: '/accounts/:id' }) route!: string | null;
  @ApiProperty({ nullable: true, type: String }) method!: string | null;
  @ApiProperty({ nullable: true, type: Number }) durationMs!: number | null;
  @ApiProperty({ nullable: true, type: Object }) metadata!: unknown;
}

export class EventPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items!: AuditEventDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  nextCursor!: string | null;
}

export class StatsRowDto {
  @ApiProperty({
    example: '2026-11-22',
    description:
      "The group: a day (YYYY-MM-DD, also with dayAction), action, resource type, organization or actor id ('' = none)",
  })
  key!: string;
  @ApiPropertyOptional({ example: 'update', description: 'Only with groupBy=dayAction' }) action?: string;
  @ApiProperty() events!: number;
  @ApiProperty() failures!: number;
  @ApiPropertyOptional({ description: 'Only with groupBy=day' }) distinctActors?: number;
}

export class StatsResponseDto {
  @ApiProperty({ enum: ['day', 'action', 'resourceType', 'organization', 'dayAction', 'actor'] })
  groupBy!: string;
  @ApiProperty({ type: [StatsRowDto] }) items!: StatsRowDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'Figures are as of this time',
  })
  refreshedAt!: string | null;
  @ApiProperty({ nullable: true, type: Number }) stalenessSeconds!: number | null;
}

export class ActorActionCountDto {
  @ApiProperty({ example: 'update' }) action!: string;
  @ApiProperty() events!: number;
  @ApiProperty() failures!: number;
}

export class ActorSummaryDto {
  @ApiProperty() actorId!: string;
  @ApiProperty({ format: 'date-time', description: 'Start of the range counted (inclusive)' }) from!: string;
  @ApiProperty({ format: 'date-time', description: 'End of the range counted (exclusive)' }) to!: string;
  @ApiProperty({ description: "The actor's events in the range (sum of the items)" }) total!: number;
  @ApiProperty({ type: [ActorActionCountDto], description: 'Per action, most events first' })
  items!: ActorActionCountDto[];
}

export { ErrorDto } from '../../common/http/error.dto';
