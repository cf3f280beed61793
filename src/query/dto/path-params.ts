import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

export class ResourcePathParams {
  @ApiProperty({ example: 'account' })
  @IsString()
  @Length(1, 256)
  type!: string;

  @ApiProperty()
  @IsString()
  @Length(1, 256)
  id!: string;
}

export class ActorPathParams {
  @ApiProperty()
  @IsString()
  @Length(1, 256)
  id!: string;
}
