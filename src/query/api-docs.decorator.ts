import { applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ErrorDto } from './dto/responses';

/** The common OpenAPI description of an admin controller: Bearer JWT, 400/401/403 shapes. */
export function AdminApi(tag: string) {
  return applyDecorators(
    ApiTags(tag),
    ApiBearerAuth(),
    ApiBadRequestResponse({ type: ErrorDto, description: 'A parameter is invalid (the message names it)' }),
    ApiUnauthorizedResponse({ type: ErrorDto, description: 'Missing or invalid Bearer token' }),
    ApiForbiddenResponse({
      type: ErrorDto,
      description: 'The token lacks the role, or asks for another organization',
    }),
  );
}
