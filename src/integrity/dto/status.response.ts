import { ApiProperty } from '@nestjs/swagger';

/** OpenAPI shape of `GET <admin>/integrity/status` (the runtime object: IntegrityStatus, verification.ts). */
export class BrokenLinkDto {
  @ApiProperty({ enum: ['event', 'seal', 'checkpoint', 'head'] }) kind!: string;
  @ApiProperty({ description: 'Event id, `org#seq` of a seal or head, or checkpoint id' }) id!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ nullable: true, type: String }) organizationId!: string | null;
}

export class VerificationDto {
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ format: 'date-time' }) finishedAt!: string;
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'Events whose hash was recomputed' }) checkedEvents!: number;
  @ApiProperty({ nullable: true, type: BrokenLinkDto }) firstBroken!: BrokenLinkDto | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'Range start; null = open' })
  from!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'Range end; null = open' })
  to!: string | null;
}

export class CheckpointDto {
  @ApiProperty() id!: string;
  @ApiProperty({ nullable: true, type: String }) organizationId!: string | null;
  @ApiProperty({ description: 'The seal (position in the chain) it signs' }) seq!: string;
  @ApiProperty({ format: 'date-time' }) signedAt!: string;
  @ApiProperty({ description: 'Ed25519 key id (see /integrity/public-keys)' }) keyId!: string;
}

export class ChainStateDto {
  @ApiProperty({ description: 'Seals in the chain (one per batch)' }) seals!: number;
  @ApiProperty({ description: 'Events the seals cover' }) sealedEvents!: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastSealAt!: string | null;
  @ApiProperty({ description: 'Transactional batches queued for chaining, not sealed yet' })
  pendingBatches!: number;
}

export class IntegrityStatusDto {
  @ApiProperty({ nullable: true, type: String, description: 'null: every chain (audit:read:all)' })
  organizationId!: string | null;
  @ApiProperty({ nullable: true, type: VerificationDto }) lastVerification!: VerificationDto | null;
  @ApiProperty({ nullable: true, type: CheckpointDto }) newestCheckpoint!: CheckpointDto | null;
  @ApiProperty({ nullable: true, type: ChainStateDto }) chain!: ChainStateDto | null;
}
