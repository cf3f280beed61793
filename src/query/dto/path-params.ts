import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';
import { IsSafeText } from '../../common/validation';

export class ResourcePathParams {
  @ApiProperty({ example: 'account' })
  @IsSafeText(256)
  type!: string;

  @ApiProperty()
  @IsSafeText(256)
  id!: string;
}

export class ActorPathParams {
  @ApiProperty()
  @IsSafeText(256)
  id!: string;
}

export class RequestPathParams {
  @ApiProperty({ description: 'The request id (X-Request-Id) events carry' })
  @IsSafeText(128)
  requestId!: string;
}

export class TransactionPathParams {
  @ApiProperty({ example: '748213', description: 'Postgres transaction id (xid8), decimal digits' })
  @Matches(/^[0-9]{1,20}$/, { message: 'txid must be a transaction id (1-20 decimal digits)' })
  txid!: string;
}
