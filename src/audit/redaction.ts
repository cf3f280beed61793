import { JsonValue } from './audit.types';
import { safeSerialize, TruncatedState } from '../common/serialization/safe-serialize';

/**
 * Key names redacted wherever they appear. Matching ignores case and separators (`api_key`, `apiKey`,
 * `API-KEY` are the same key); the words marked `*` also match inside longer keys (`newPassword`,
 * `stripeSecretKey`, `refresh_token`).
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

export class RedactionRules {
  private constructor(
    private readonly exact: ReadonlySet<string>,
    private readonly contained: readonly string[],
    private readonly paths: readonly string[][],
  ) {}

  static fromKeys(keys: readonly string[]): RedactionRules {
    const exact = keys.filter((key) => !key.endsWith('*')).map(normalizeKey);
    const contained = keys.filter((key) => key.endsWith('*')).map((key) => normalizeKey(key.slice(0, -1)));
    return new RedactionRules(new Set(exact), contained, []);
  }

  /** The same keys plus extra dotted paths (`profile.ssn`, `items.*.secret`). */
  withPaths(paths: readonly string[] | undefined): RedactionRules {
    if (!paths || paths.length === 0) return this;
    return new RedactionRules(this.exact, this.contained, [...this.paths, ...paths.map((p) => p.split('.'))]);
  }

  /** Key-name verdicts, memoized: states repeat the same few keys millions of times. */
  private readonly keyVerdicts = new Map<string, boolean>();

  readonly isRedactedKey = (key: string, path: readonly string[]): boolean => {
    let byName = this.keyVerdicts.get(key);
    if (byName === undefined) {
      const normalized = normalizeKey(key);
      byName = this.exact.has(normalized) || this.contained.some((word) => normalized.includes(word));
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
