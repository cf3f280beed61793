import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidationOptions, registerDecorator } from 'class-validator';

/**
 * An integer parameter in [min, max] written in plain decimal (`50`, not `5e1`, `0x32` or ` 50`): the DTO
 * holds a number; anything else, or out of range, is a 400 naming the field and the range.
 */
export function IsBoundedInt(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }) =>
      typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value,
    ),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        name: 'isBoundedInt',
        target: target.constructor,
        propertyName: propertyName as string,
        constraints: [min, max],
        options: {
          message: ({ property }) => `${property} must be an integer from ${min} to ${max}`,
          ...options,
        },
        validator: {
          validate: (value: unknown) =>
            typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max,
        },
      }),
  );
}
