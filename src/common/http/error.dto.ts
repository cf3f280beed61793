import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The shape of every error the admin API answers (400, 401, 403, 404, 409, 500...). */
export class ErrorDto {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({
    example: ['limit must not be greater than 1000'],
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
  })
  message!: string | string[];
  @ApiPropertyOptional() error?: string;
  @ApiPropertyOptional() requestId?: string;
}
