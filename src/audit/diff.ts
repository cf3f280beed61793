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
  /**
   * Fields whose changes never count (noise such as `updatedAt`, `version`): a name alone (`updatedAt`)
   * matches that key at any depth, a dotted path (`lines.*.syncedAt`) that path (`*` is one level, and
   * stands for a collection member's `[id]`). The states keep them; only `changes` leaves them out.
   */
  ignore?: readonly string[];
}

/** Fields that change on every write without saying anything: never a change by themselves. */
export const DEFAULT_IGNORED_FIELDS: readonly string[] = ['updatedAt', 'updated_at', 'version'];

const NOTHING_IGNORED = () => false;
/** Compiled matchers by pattern list: a handler's list is one array, diffed on every one of its events. */
const matchers = new WeakMap<readonly string[], (path: string) => boolean>();

/** Whether a change path is ignored by `patterns` (see DiffOptions.ignore). */
export function ignoredPaths(patterns: readonly string[] | undefined): (path: string) => boolean {
  if (!patterns || patterns.length === 0) return NOTHING_IGNORED;
  let matcher = matchers.get(patterns);
  if (!matcher) matchers.set(patterns, (matcher = compileIgnored(patterns)));
  return matcher;
}

function compileIgnored(patterns: readonly string[]): (path: string) => boolean {
  const names = new Set(patterns.filter((p) => !p.includes('.')));
  const paths = patterns.filter((p) => p.includes('.')).map((p) => p.split('.'));
  return (path) => {
    const segments = path.replace(/\[[^\]]*\]/g, '.*').split('.');
    if (names.has(segments[segments.length - 1])) return true;
    return paths.some(
      (pattern) =>
        pattern.length === segments.length &&
        pattern.every((part, i) => part === '*' || part === segments[i]),
    );
  };
}

const isScalar = (value: JsonValue): boolean => value === null || typeof value !== 'object';

type Keyed = Map<string, JsonObject>;

/** An array of objects each with a scalar `id`, unique: a child collection or loaded relation, by id. */
function byId(items: JsonValue[]): Keyed | null {
  const map: Keyed = new Map();
  for (const item of items) {
    if (!isObject(item)) return null;
    const id = field(item, 'id');
    if (id === undefined || id === null || typeof id === 'object') return null;
    const key = String(id);
    if (map.has(key)) return null;
    map.set(key, item);
  }
  return map;
}

/** Members of `a` not in `b`, as a multiset of scalars (JSON text as the identity). */
function missingFrom(a: JsonValue[], b: JsonValue[]): JsonValue[] {
  const counts = new Map<string, number>();
  for (const item of b) counts.set(JSON.stringify(item), (counts.get(JSON.stringify(item)) ?? 0) + 1);
  return a.filter((item) => {
    const key = JSON.stringify(item);
    const n = counts.get(key) ?? 0;
    if (n > 0) counts.set(key, n - 1);
    return n === 0;
  });
}

/**
 * Field-level diff of two sanitized states. Objects are compared key by key (paths like `address.city`).
 * Arrays are relationships or lists: a list of scalars (ids of a many-to-many link, tags) is reported with
 * its `added` and `removed` members besides both values; a collection of objects with an `id` (child rows,
 * loaded relations) as one entry with the `added`/`removed` ids, plus a change per field of a member that
 * stayed (`lines[7].quantity`); order alone is not a change. Other arrays and scalars are compared whole.
 * Redacted fields are reported as changed (without values) when the values redaction removed differ.
 */
export function diffStates(
  before: JsonValue | null,
  after: JsonValue | null,
  options: DiffOptions = {},
): FieldChange[] {
  const changes: FieldChange[] = [];
  const ignored = ignoredPaths(options.ignore);
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
    if (path && ignored(path)) return;
    if (Array.isArray(left) && Array.isArray(right) && !deepEqual(left, right)) {
      if (left.every(isScalar) && right.every(isScalar)) {
        const added = missingFrom(right, left);
        const removed = missingFrom(left, right);
        changes.push({
          path,
          before: left,
          after: right,
          ...(added.length || removed.length ? { added, removed } : {}),
        });
        return;
      }
      const [was, is] = [byId(left), byId(right)];
      if (was && is) {
        const added = [...is.keys()].filter((id) => !was.has(id)).map((id) => field(is.get(id)!, 'id')!);
        const removed = [...was.keys()].filter((id) => !is.has(id)).map((id) => field(was.get(id)!, 'id')!);
        if (added.length || removed.length)
          changes.push({ path, before: undefined, after: undefined, added, removed });
        const reported = changes.length;
        for (const [id, member] of is) if (was.has(id)) walk(was.get(id), member, `${path}[${id}]`, false);
        // A secret rotated inside a member: redaction keeps no values to compare by path here.
        if (changes.length === reported && !added.length && !removed.length && secretsDiffer(path, true))
          changes.push({ path, before: undefined, after: undefined, redacted: true });
        return;
      }
    }
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
