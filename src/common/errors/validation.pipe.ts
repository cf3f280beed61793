import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

const flatten = (errors: ValidationError[], parent = ''): string[] =>
  errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      message.includes(error.property) ? message : `${field}: ${message}`,
    );
    return [...own, ...flatten(error.children ?? [], field)];
  });

/** Strict DTO validation: unknown fields rejected, every message names its field. */
export function strictValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    exceptionFactory: (errors) =>
      new BadRequestException({ statusCode: 400, error: 'Bad Request', message: flatten(errors) }),
  });
}
