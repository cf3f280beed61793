import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidationOptions, registerDecorator } from 'class-validator';

/** The instants every time parameter must fall in: Postgres and `Date#toISOString` agree on both ends. */
export const MIN_TIMESTAMP = Date.UTC(1970, 0, 1);
export const MAX_TIMESTAMP = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

// Calendar date, optionally a time (minutes required, seconds and up to 9 fraction digits optional) and
// an offset. Only the extended form: `20261101`, week dates (`2026-W01`) and ordinal dates (`2026-305`),
// which `IsISO8601` lets through and `Date` cannot read, are refused.
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-](\d{2}):(\d{2}))?)?$/;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * A strict ISO 8601 date (`2026-11-01`, midnight UTC) or date-time (`2026-11-01T10:00`,
 * `2026-11-01T10:00:00.123Z`, `...+02:00`; without an offset it is UTC) between 1970-01-01 and
 * 9999-12-31 (UTC), as a Date; null for anything else. Fractions finer than a millisecond are truncated.
 */
export function parseIsoTimestamp(value: unknown): Date | null {
  if (typeof value !== 'string' || value.length > 40) return null;
  const m = ISO_TIMESTAMP.exec(value);
  if (!m) return null;
  const [year, month, day, hour = 0, minute = 0, second = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(
    (part) => (part === undefined ? undefined : Number(part)),
  ) as number[];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMinutes = 0;
  if (m[8] && m[8] !== 'Z') {
    const [offsetHours, offsetMins] = [Number(m[9]), Number(m[10])];
    if (offsetHours > 14 || offsetMins > 59) return null;
    offsetMinutes = (m[8][0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const time = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  return time >= MIN_TIMESTAMP && time <= MAX_TIMESTAMP ? new Date(time) : null;
}

/**
 * A time parameter: `parseIsoTimestamp` must accept it (400 naming the field otherwise), and the DTO then
 * holds its canonical form (`toISOString`), so every later `new Date(value)` reads the same instant.
 */
export function IsIsoTimestamp(options?: ValidationOptions): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }) => parseIsoTimestamp(value)?.toISOString() ?? value),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        name: 'isIsoTimestamp',
        target: target.constructor,
        propertyName: propertyName as string,
        options: {
          message: ({ property }) =>
            `${property} must be an ISO 8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS[.sss]][Z|±HH:MM]) between 1970-01-01 and 9999-12-31`,
          ...options,
        },
        validator: { validate: (value: unknown) => parseIsoTimestamp(value) !== null },
      }),
  );
}
