import { ValidationOptions, registerDecorator } from 'class-validator';

// C0 controls (NUL included: Postgres refuses it in text, 22021) and DEL.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A string of `min`-`max` characters with no control character and no lone surrogate (which could never
 * match stored UTF-8 text): what a query value or path segment may carry to the database.
 */
export function isSafeText(value: unknown, max: number, min = 1): value is string {
  return (
    typeof value === 'string' &&
    value.length >= min &&
    value.length <= max &&
    !CONTROL.test(value) &&
    !LONE_SURROGATE.test(value)
  );
}

/** Validates with `isSafeText`; the 400 names the field and the rule. */
export function IsSafeText(max: number, options?: ValidationOptions & { min?: number }): PropertyDecorator {
  const min = options?.min ?? 1;
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isSafeText',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [min, max],
      options: {
        message: ({ property }) =>
          `${property} must be a string of ${min}-${max} characters without control characters`,
        ...options,
      },
      validator: { validate: (value: unknown) => isSafeText(value, max, min) },
    });
}
