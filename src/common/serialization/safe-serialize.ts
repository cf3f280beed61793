import { storableText } from './storable-text';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface SafeSerializeOptions {
  /** Approximate budget in bytes of JSON; past it the result is wrapped in a truncation marker. */
  maxBytes: number;
  /** Decides whether the value under `key` (at `path`, the keys from the root) is replaced by `[REDACTED]`. */
  shouldRedact?: (key: string, path: readonly string[]) => boolean;
  /** Redacts string values that look like secrets whatever their key (card numbers...). */
  shouldRedactValue?: (value: string) => boolean;
  /** Called with each redacted value before it is dropped (kept in memory so the diff can see it changed). */
  onRedact?: (path: string, value: unknown) => void;
}

export const REDACTED = '[REDACTED]';
export const CIRCULAR = '[Circular]';
const MAX_DEPTH = 32;
const MAX_INLINE_BUFFER = 1024;

// eslint-disable-next-line no-control-regex -- JSON escapes exactly these control characters
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** Bytes of a string once written as JSON: UTF-8 length, escapes included, plus the quotes. */
function jsonBytes(value: string): number {
  return NEEDS_ESCAPE.test(value) ? Buffer.byteLength(JSON.stringify(value)) : Buffer.byteLength(value) + 2;
}

/** `out[key] = value`, except that `__proto__` is stored as data rather than changing the prototype. */
function setField(out: Record<string, JsonValue>, key: string, value: JsonValue): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

export interface TruncatedState {
  $truncated: true;
  limitBytes: number;
  partial: JsonValue;
}

/**
 * Turns any value into JSON-safe data in one pass: Date, BigInt, Decimal-likes (anything with toJSON),
 * Buffer, Map/Set, class instances and cycles are handled; redaction is applied on the way, so a redacted
 * value is never copied; NUL characters and lone surrogates (rejected by Postgres, see storable-text.ts) are
 * replaced by U+FFFD, in values and keys. Keys are plain data (`__proto__`, `constructor`: own properties
 * of the copy, never its prototype). The walk stops once the byte budget is spent, so a huge object costs
 * no more than the cap.
 */
export function safeSerialize(input: unknown, options: SafeSerializeOptions): JsonValue | TruncatedState {
  let budget = options.maxBytes;
  let truncated = false;
  const ancestors = new Set<object>();
  const path: string[] = [];

  const visit = (value: unknown, depth: number): JsonValue | undefined => {
    if (truncated) return undefined;
    switch (typeof value) {
      case 'string': {
        if (options.shouldRedactValue?.(value)) {
          options.onRedact?.(path.join('.'), value);
          return spend(REDACTED.length + 2) ? REDACTED : undefined;
        }
        const clean = storableText(value);
        return spend(jsonBytes(clean)) ? clean : undefined;
      }
      case 'number':
        return spend(8) ? (Number.isFinite(value) ? value : String(value)) : undefined;
      case 'boolean':
        return spend(5) ? value : undefined;
      case 'bigint':
        return spend(20) ? value.toString() : undefined;
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (value === null) return spend(4) ? null : undefined;
    const object = value as object;
    if (depth >= MAX_DEPTH) return '[MaxDepth]';
    if (ancestors.has(object)) return CIRCULAR;
    if (Buffer.isBuffer(object) || object instanceof Uint8Array) return serializeBytes(object as Uint8Array);
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
    if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
      return visit((object as { toJSON(): unknown }).toJSON(), depth + 1);
    }

    ancestors.add(object);
    try {
      if (Array.isArray(object) || object instanceof Set) {
        const out: JsonValue[] = [];
        let index = 0;
        for (const item of object) {
          path.push(String(index++));
          const child = visit(item, depth + 1);
          path.pop();
          // A list keeps only its complete items; the one being cut short is left out.
          if (truncated) break;
          out.push(child === undefined ? null : child);
        }
        return out;
      }
      const out: { [key: string]: JsonValue } = {};
      if (object instanceof Map) {
        for (const [rawKey, child] of object) if (!field(out, String(rawKey), child, depth)) break;
      } else {
        // Keys and a lookup rather than Object.entries: no [key, value] pair allocated per field.
        const record = object as Record<string, unknown>;
        for (const key of Object.keys(record)) if (!field(out, key, record[key], depth)) break;
      }
      return out;
    } finally {
      ancestors.delete(object);
    }
  };

  /** One field of an object into `out`; false once the budget is spent (stop the object there). */
  const field = (
    out: { [key: string]: JsonValue },
    rawKey: string,
    child: unknown,
    depth: number,
  ): boolean => {
    const key = storableText(rawKey);
    path.push(key);
    if (options.shouldRedact?.(key, path)) {
      if (child !== undefined && child !== null) options.onRedact?.(path.join('.'), child);
      if (spend(jsonBytes(key) + 13))
        setField(out, key, child === null || child === undefined ? null : REDACTED);
    } else {
      // A field cut short by the budget is kept as far as it got (the root marker says it is partial).
      const serialized = visit(child, depth + 1);
      if (serialized !== undefined) {
        spend(jsonBytes(key) + 1);
        setField(out, key, serialized);
      }
    }
    path.pop();
    return !truncated;
  };

  const spend = (bytes: number): boolean => {
    budget -= bytes;
    if (budget < 0) truncated = true;
    return !truncated;
  };

  const serializeBytes = (bytes: Uint8Array): JsonValue => {
    const length = bytes.byteLength;
    if (length > MAX_INLINE_BUFFER) return { $type: 'Buffer', length, omitted: true };
    return spend(length * 1.4 + 40)
      ? { $type: 'Buffer', length, base64: Buffer.from(bytes).toString('base64') }
      : null;
  };

  const result = visit(input, 0);
  if (truncated) return { $truncated: true, limitBytes: options.maxBytes, partial: result ?? null };
  return result === undefined ? null : result;
}
