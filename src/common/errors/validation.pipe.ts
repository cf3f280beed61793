import { ArgumentMetadata, BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

const flatten = (errors: ValidationError[], parent = ''): string[] =>
  errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      message.includes(error.property) ? message : `${field}: ${message}`,
    );
    return [...own, ...flatten(error.children ?? [], field)];
  });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The path of the first string (value or key) holding a lone surrogate, or null. Validators are not
 * written for such text: `IsEmail` throws a URIError on one (a 500) instead of saying no. Iterative, so a
 * deep value cannot overflow the stack.
 */
export function findLoneSurrogate(value: unknown): string | null {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      if (LONE_SURROGATE.test(current)) return path || 'value';
    } else if (current !== null && typeof current === 'object') {
      for (const [key, child] of Object.entries(current)) {
        const childPath = path ? `${path}.${key}` : key;
        if (LONE_SURROGATE.test(key)) return childPath;
        stack.push([child, childPath]);
      }
    }
  }
  return null;
}

class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'custom') {
      const field = findLoneSurrogate(value);
      if (field !== null) {
        const name =
          metadata.type === 'body' || metadata.type === 'query' || !metadata.data ? field : metadata.data;
        throw new BadRequestException({
          statusCode: 400,
          error: 'Bad Request',
          message: [`${name} must be well-formed Unicode text (it holds a lone surrogate)`],
        });
      }
    }
    return super.transform(value, metadata);
  }
}

/**
 * Strict DTO validation: unknown fields rejected, every message names its field, and text that is not
 * well-formed Unicode refused before any validator reads it.
 */
export function strictValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    exceptionFactory: (errors) =>
      new BadRequestException({ statusCode: 400, error: 'Bad Request', message: flatten(errors) }),
  });
}
