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
      return JSON.stringify(value);
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

/** Object shape (its keys in insertion order) -> its keys in jsonb order, each with its printed prefix. */
const shapes = new Map<string, Array<[key: string, prefix: string]>>();
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
  let out = '';
  for (const [key, prefix] of orderedKeys(record)) {
    const v = record[key];
    if (!isSerializable(v)) continue;
    out += (out === '' ? '{' : ', ') + prefix + jsonbText(v);
  }
  return out === '' ? '{}' : out + '}';
}

/** States of one resource type share a shape: its sorted keys are computed once (bounded cache). */
function orderedKeys(record: Record<string, unknown>): Array<[string, string]> {
  const keys = Object.keys(record);
  const shape = keys.length + ':' + keys.join('\u0000'); // the count tells {} from {"": ...}
  let ordered = shapes.get(shape);
  if (!ordered) {
    ordered = keys.sort(compareKeys).map((key) => [key, JSON.stringify(key) + ': ']);
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    shapes.set(shape, ordered);
  }
  return ordered;
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
