/**
 * Strings as Postgres can store them, in `text` and inside `jsonb` alike.
 *
 * Postgres refuses two things a JavaScript string can hold: the NUL character (in `text`, and as `\u0000`
 * in JSON) and lone UTF-16 surrogates (JSON's `\ud800` without its pair: 22P02). One such character in an
 * event made its whole COPY batch fail. Both are replaced by U+FFFD (the replacement character) rather than
 * dropped: an audit trail should show that a character was there and could not be kept (`adm\0in` stored
 * as `admin` would read as a different, plausible value), and a replacement keeps lengths and positions.
 * A valid surrogate pair (an emoji) is kept as it is.
 */
export const REPLACEMENT = '\ufffd';

// Any NUL or surrogate: the cheap test most strings pass (a valid pair also matches; the precise pattern decides).
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const SUSPECT = /[\u0000\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex -- NUL is exactly what this replaces
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The string with each NUL and lone surrogate replaced by U+FFFD; the same string when there is none. */
export function storableText(value: string): string {
  return SUSPECT.test(value) ? value.replace(UNSTORABLE, REPLACEMENT) : value;
}

/** `storableText` for a nullable field. */
export function storableOrNull<T extends string | null | undefined>(value: T): T {
  return (typeof value === 'string' ? storableText(value) : value) as T;
}
