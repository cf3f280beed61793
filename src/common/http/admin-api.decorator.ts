import { applyDecorators, UseFilters, UsePipes } from '@nestjs/common';
import { AllExceptionsFilter } from '../errors/all-exceptions.filter';
import { strictValidationPipe } from '../errors/validation.pipe';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ErrorDto } from './error.dto';

/**
 * What every admin controller shares: its own strict validation (unknown parameters are a 400 whatever
 * the app's global pipes) and error filter (no stack, SQL or values in a response), and the OpenAPI
 * description: Bearer JWT, 400/401/403 shapes.
 */
export function AdminApi(tag: string) {
  return applyDecorators(
    UsePipes(strictValidationPipe()),
    UseFilters(AllExceptionsFilter),
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
