/**
 * A JSON value written exactly as Postgres prints a `jsonb` (`jsonb::text`, and inside `row_to_json`):
 * object keys sorted by byte length then bytes, `", "` and `": "` separators, numbers as `numeric` prints
 * them (never an exponent), strings escaped as JSON.stringify does (the same set as Postgres' escape_json).
 *
 * The writer sends this text in the COPY line, and the event hash covers it, so the database's own
 * `jsonb::text` of a stored value reproduces the hashed bytes: verification never re-parses JSON.
 * Values follow JSON.stringify's rules: `undefined`/functions are left out of objects and become null in
 * arrays, non-finite numbers are null, `toJSON()` is honoured.
 */
export function jsonbText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return stringText(value);
    case 'number':
      return numberText(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      return objectText(value as object);
    default:
      return 'null';
  }
}

/** What JSON.stringify escapes: quote, backslash, controls, and (lone) surrogates (checked by it). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
// Most state strings need no escape: a regex test is ~3x cheaper than a JSON.stringify call.
const stringText = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"');

/** Keys of one object shape (insertion order), and the same keys in jsonb order with their printed prefixes. */
interface Shape {
  keys: string[];
  sorted: string[];
  prefixes: string[];
}
/** Shapes by first key: states of one resource type share a shape, its order is computed once (bounded). */
const shapes = new Map<string, Shape[]>();
let shapeCount = 0;
const MAX_SHAPES = 10_000;

function objectText(value: object): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    let out = '[' + elementText(value[0]);
    for (let i = 1; i < value.length; i++) out += ', ' + elementText(value[i]);
    return out + ']';
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return jsonbText(withJson.toJSON());
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 0) return '{}';
  const { sorted, prefixes } = shapeOf(keys);
  let out = '';
  for (let i = 0; i < sorted.length; i++) {
    const v = record[sorted[i]];
    let text: string;
    if (typeof v === 'string') text = stringText(v);
    else if (typeof v === 'number') text = numberText(v);
    else if (isSerializable(v)) text = jsonbText(v);
    else continue;
    out += (out === '' ? '{' : ', ') + prefixes[i] + text;
  }
  return out === '' ? '{}' : out + '}';
}

/** The cached shape with exactly these keys in this order (compared key by key: no string is built). */
function shapeOf(keys: string[]): Shape {
  const candidates = shapes.get(keys[0]);
  if (candidates) {
    for (const shape of candidates) if (sameKeys(shape.keys, keys)) return shape;
  }
  const sorted = [...keys].sort(compareKeys);
  const shape = { keys, sorted, prefixes: sorted.map((key) => JSON.stringify(key) + ': ') };
  if (shapeCount >= MAX_SHAPES) {
    shapes.clear();
    shapeCount = 0;
  }
  shapeCount++;
  if (candidates) candidates.push(shape);
  else shapes.set(keys[0], [shape]);
  return shape;
}

function sameKeys(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const isSerializable = (v: unknown) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
const elementText = (v: unknown) => (isSerializable(v) ? jsonbText(v) : 'null');

/** jsonb's key order: shorter (in UTF-8 bytes) first, then bytewise. */
export function compareKeys(a: string, b: string): number {
  const la = Buffer.byteLength(a);
  const lb = Buffer.byteLength(b);
  if (la !== lb) return la - lb;
  if (la === a.length && lb === b.length) return a < b ? -1 : a > b ? 1 : 0; // ASCII: code units are bytes
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A JS number as Postgres `numeric` prints the decimal JSON.stringify would write (no exponent). */
export function numberText(value: number): string {
  if (!Number.isFinite(value)) return 'null';
  const text = String(value);
  const e = text.indexOf('e');
  return e === -1 ? text : expandExponent(text.slice(0, e), Number(text.slice(e + 1)));
}

function expandExponent(mantissa: string, exponent: number): string {
  const negative = mantissa.startsWith('-');
  const unsigned = negative ? mantissa.slice(1) : mantissa;
  const dot = unsigned.indexOf('.');
  const digits = unsigned.replace('.', '');
  const point = (dot === -1 ? unsigned.length : dot) + exponent; // position of the decimal point in digits
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return negative ? '-' + out : out;
}
