import { JsonValue } from './audit.types';
import { safeSerialize, TruncatedState } from '../common/serialization/safe-serialize';

/**
 * Key names redacted wherever they appear, written as key patterns (see `keyMatcher`): `api_key`, `apiKey`
 * and `API-KEY` are one key; the words marked `*` also match inside longer keys (`newPassword`,
 * `stripeSecretKey`, `refresh_token`), except in a key about the secret rather than the secret itself
 * (`passwordUpdatedAt`, `tokenExpiresAt`, `hasPassword`: see `NEIGHBOUR_LAST_WORDS`).
 */
export const DEFAULT_REDACT_KEYS = [
  'password*',
  'passwd',
  'secret*',
  'token*',
  'apikey*',
  'authorization',
  'cookie',
  'setcookie',
  'privatekey*',
  'cardnumber',
  'cardno',
  'pan',
  'cvv',
  'cvc',
  'ssn',
];

const MAX_MEMOIZED_KEYS = 10_000;
/** Key names compare without case or separators: `api_key`, `apiKey` and `API-KEY` are one key. */
export const normalizeKey = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The words of a key, lowercase: split at separators and camelCase (`clientIPAddress` -> client, ip, address;
 * `remote_ip` -> remote, ip). Joined, they are the key's `normalizeKey` form.
 */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

/**
 * Last words that make a key describe a value rather than hold it: a time (`passwordUpdatedAt`,
 * `tokenExpiresAt`, `secretRotationDate`), a count or size (`tokenCount`, `passwordLength`,
 * `failedPasswordAttempts`), a flag (`apiKeyEnabled`, `emailVerified`) or a rule (`passwordPolicy`).
 * Deliberately not here: `set` (`tokenSet`, `privateKeySet` are collections of secrets; a flag reads
 * `isPasswordSet` or `hasPassword`, covered by the leading words), `id` (a reset or session id is often the
 * bearer secret itself), `hint` (a password hint gives the password away).
 */
const NEIGHBOUR_LAST_WORDS: ReadonlySet<string> = new Set([
  'at',
  'date',
  'time',
  'expires',
  'expiry',
  'ttl',
  'count',
  'attempts',
  'length',
  'enabled',
  'disabled',
  'required',
  'verified',
  'policy',
  'version',
]);
/** First words that make a key a flag: `hasPassword`, `isMobile`. */
const FLAG_FIRST_WORDS: ReadonlySet<string> = new Set(['is', 'has']);

/**
 * Compiles key patterns (redaction keys, personal-data keys) into one test of a key name. Keys compare
 * without case or separators, and a pattern is:
 * - `word`: the whole key (`apikey`: `api_key`, `apiKey`, `API-KEY`);
 * - `word*`: anywhere inside the key (`password*`: `newPassword`, `password_hash`, `userPasswords`);
 * - `~word`: whole words of the key, split at separators and camelCase (`~ip`: `ip`, `clientIp`, `remote_ip`,
 *   `IPAddress`, `x-real-ip`; not `zip`, `ship`, `tooltip`, `description`), for words too short to match
 *   inside other words. A key written all lowercase without separators (`clientip`) has one word.
 *
 * A `word*` or `~word` match is dropped when the matched text lies wholly before a neighbour last word
 * (`NEIGHBOUR_LAST_WORDS`: `passwordUpdatedAt`, `tokenCount`, `emailVerified`) or after a flag first word
 * (`hasPassword`, `isMobile`): such keys are about the value, not the value. It needs the word boundary:
 * `passwordupdatedat` stays matched. A pattern that itself names the neighbour (`tokencount*`) still matches,
 * and exact patterns are never dropped.
 */
export function keyMatcher(patterns: readonly string[]): (key: string) => boolean {
  const exact = new Set<string>();
  const contained: string[] = [];
  const worded: string[][] = [];
  for (const pattern of patterns) {
    if (pattern.startsWith('~')) {
      const words = keyWords(pattern.slice(1));
      if (words.length > 0) worded.push(words);
    } else if (pattern.endsWith('*')) {
      const word = normalizeKey(pattern.slice(0, -1));
      if (word) contained.push(word);
    } else {
      exact.add(normalizeKey(pattern));
    }
  }
  return (key) => {
    const normalized = normalizeKey(key);
    if (exact.has(normalized)) return true;
    if (contained.length === 0 && worded.length === 0) return false;
    const words = keyWords(key);
    // A key with a flag first word or a neighbour last word: a match must reach into one of them (the pattern
    // names it: `tokencount*`) to count; one wholly in the rest of the key is a neighbour.
    const last = words.length > 1 && NEIGHBOUR_LAST_WORDS.has(words[words.length - 1]) ? 1 : 0;
    const first = words.length > 1 + last && FLAG_FIRST_WORDS.has(words[0]) ? 1 : 0;
    const trimmed = first + last > 0;
    const start = first ? words[0].length : 0;
    const end = normalized.length - (last ? words[words.length - 1].length : 0);
    for (const word of contained) {
      for (let at = normalized.indexOf(word); at >= 0; at = normalized.indexOf(word, at + 1)) {
        if (!trimmed || at < start || at + word.length > end) return true;
      }
    }
    for (const sequence of worded) {
      for (let i = 0; i + sequence.length <= words.length; i++) {
        if (!sequence.every((word, j) => words[i + j] === word)) continue;
        if (!trimmed || i < first || i + sequence.length > words.length - last) return true;
      }
    }
    return false;
  };
}

export class RedactionRules {
  private constructor(
    private readonly matchesKey: (key: string) => boolean,
    private readonly paths: readonly string[][],
  ) {}

  /** Rules from key patterns (see `keyMatcher`: `word`, `word*`, `~word`). */
  static fromKeys(keys: readonly string[]): RedactionRules {
    return new RedactionRules(keyMatcher(keys), []);
  }

  /** The same keys plus extra dotted paths (`profile.ssn`, `items.*.secret`). */
  withPaths(paths: readonly string[] | undefined): RedactionRules {
    if (!paths || paths.length === 0) return this;
    return new RedactionRules(this.matchesKey, [...this.paths, ...paths.map((p) => p.split('.'))]);
  }

  /** Key-name verdicts, memoized: states repeat the same few keys millions of times. */
  private readonly keyVerdicts = new Map<string, boolean>();

  readonly isRedactedKey = (key: string, path: readonly string[]): boolean => {
    let byName = this.keyVerdicts.get(key);
    if (byName === undefined) {
      byName = this.matchesKey(key);
      if (this.keyVerdicts.size < MAX_MEMOIZED_KEYS) this.keyVerdicts.set(key, byName);
    }
    if (byName) return true;
    for (const pattern of this.paths) {
      if (
        pattern.length === path.length &&
        pattern.every((segment, i) => segment === '*' || segment === path[i])
      ) {
        return true;
      }
    }
    return false;
  };
}

/** A card number (13-19 digits, optional spaces/dashes) passing the Luhn check. */
export function looksLikeCardNumber(value: string): boolean {
  if (value.length < 13 || value.length > 23) return false;
  if (!/^\d[\d -]+\d$/.test(value)) return false;
  const digits = value.replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * The values redaction removed from one state, by dotted path, kept in memory only so the diff can tell that a
 * secret changed; never serialized (`toJSON` hides them) and dropped with the event's draft.
 */
export class RedactedValues {
  private readonly values = new Map<string, unknown>();

  set(path: string, value: unknown): void {
    this.values.set(path, value);
  }

  paths(): IterableIterator<string> {
    return this.values.keys();
  }

  has(path: string): boolean {
    return this.values.has(path);
  }

  /** Whether the value at `path` here and in `other` differ (one of them missing counts as a change). */
  differs(path: string, other: RedactedValues | null): boolean {
    const mine = this.values.has(path);
    if (!other || !other.values.has(path)) return mine;
    if (!mine) return true;
    const [a, b] = [this.values.get(path), other.values.get(path)];
    return a !== b && comparableText(a) !== comparableText(b);
  }

  toJSON(): string {
    return `[${this.values.size} redacted values]`;
  }
}

/** Values compare by their JSON text (a Buffer, a nested object), a Date by its time, BigInt by its digits. */
function comparableText(value: unknown): string {
  if (typeof value === 'string') return `s${value}`;
  if (value instanceof Date) return `d${value.getTime()}`;
  try {
    return `j${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
  } catch {
    return `x${String(value)}`;
  }
}

export interface SanitizedState {
  value: JsonValue | TruncatedState | null;
  /** What redaction removed, for the diff only; null when nothing was redacted. */
  redacted: RedactedValues | null;
}

/** Redact, serialize and size-cap one state. Nothing redacted survives in the returned value. */
export function sanitizeState(input: unknown, rules: RedactionRules, maxBytes: number): SanitizedState {
  if (input === undefined || input === null) return { value: null, redacted: null };
  let redacted: RedactedValues | null = null;
  const value = safeSerialize(input, {
    maxBytes,
    shouldRedact: rules.isRedactedKey,
    shouldRedactValue: looksLikeCardNumber,
    onRedact: (path, raw) => (redacted ??= new RedactedValues()).set(path, raw),
  });
  return { value, redacted };
}
