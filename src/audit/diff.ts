import { FieldChange, JsonValue } from './audit.types';
import type { RedactedValues } from './redaction';
import { REDACTED } from '../common/serialization/safe-serialize';

type JsonObject = { [key: string]: JsonValue };

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A field of a state, own properties only: keys are data, so `constructor`, `toString` or `__proto__` in a
 * body are fields like any other, and a state without them does not "have" Object.prototype's.
 */
const field = (object: JsonObject, key: string): JsonValue | undefined =>
  Object.hasOwn(object, key) ? object[key] : undefined;

export function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as JsonValue[];
    return a.length === other.length && a.every((item, i) => deepEqual(item, other[i]));
  }
  const left = a as JsonObject;
  const right = b as JsonObject;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.hasOwn(right, key) && deepEqual(left[key], right[key]))
  );
}

export interface DiffOptions {
  /** The values redaction removed from each state, to tell whether a secret changed without storing it. */
  beforeRedacted?: RedactedValues | null;
  afterRedacted?: RedactedValues | null;
  /**
   * When the after state is what a handler returned, a field it omits was not reported, not removed:
   * only fields present in `after` are compared.
   */
  partialAfter?: boolean;
}

/**
 * Field-level diff of two sanitized states. Objects are compared key by key (paths like `address.city`);
 * arrays and scalars are compared as a whole. Redacted fields are reported as changed (without values)
 * when the values redaction removed differ.
 */
export function diffStates(
  before: JsonValue | null,
  after: JsonValue | null,
  options: DiffOptions = {},
): FieldChange[] {
  const changes: FieldChange[] = [];
  const beforeSecrets = options.beforeRedacted ?? null;
  const afterSecrets = options.afterRedacted ?? null;
  /** Whether the redacted value at `path` (or, with `nested`, any below it) changed. */
  const secretsDiffer = (path: string, nested: boolean): boolean => {
    if (!nested)
      return beforeSecrets ? beforeSecrets.differs(path, afterSecrets) : Boolean(afterSecrets?.has(path));
    const prefix = `${path}.`;
    for (const key of beforeSecrets?.paths() ?? [])
      if (key.startsWith(prefix) && beforeSecrets!.differs(key, afterSecrets)) return true;
    for (const key of afterSecrets?.paths() ?? [])
      if (key.startsWith(prefix) && !beforeSecrets?.has(key)) return true;
    return false;
  };
  const walk = (
    left: JsonValue | undefined,
    right: JsonValue | undefined,
    path: string,
    topLevel: boolean,
  ) => {
    if (isObject(left) && isObject(right)) {
      const keys = new Set(Object.keys(right));
      if (!(options.partialAfter && topLevel)) for (const key of Object.keys(left)) keys.add(key);
      for (const key of keys) walk(field(left, key), field(right, key), path ? `${path}.${key}` : key, false);
      return;
    }
    if (left === REDACTED || right === REDACTED) {
      if (left !== right || secretsDiffer(path, false)) {
        changes.push({
          path,
          before: left === undefined ? undefined : REDACTED,
          after: right === undefined ? undefined : REDACTED,
          redacted: true,
        });
      }
      return;
    }
    if (!deepEqual(left, right)) changes.push({ path, before: left, after: right });
    // Equal on the surface, but a redacted value inside (an array of objects with secrets) may have changed.
    else if (Array.isArray(left) && secretsDiffer(path, true)) {
      changes.push({ path, before: left, after: right, redacted: true });
    }
  };
  walk(before ?? undefined, after ?? undefined, '', true);
  return changes;
}
