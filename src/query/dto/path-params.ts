import { ApiProperty } from '@nestjs/swagger';
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
