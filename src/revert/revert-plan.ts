import { deepEqual, ERASED, FieldChange, JsonValue, REDACTED } from '../audit';
import { RevertSkippedField, RevertSkipReason } from './revert.types';

/**
 * The pure part of a revert: which fields differ between the record now and the version asked for, which of
 * them can be restored (never a secret, an erased or unreadable personal value, a value the trail did not
 * store whole, or a field the handler does not restore), and the state that results.
 */

type JsonObject = { [key: string]: JsonValue };

/** What the personal-data reveal shows for a value this configuration cannot decrypt. */
const UNREADABLE = '[encrypted]';
const CIRCULAR = '[Circular]';
const PERSONAL_TOKEN = 'pii:v1:';

/** An event of the trail as far as a revert is concerned (states already decrypted). */
export interface StateEvent {
  id: string;
  action: string;
  before: JsonValue | null;
  after: JsonValue | null;
  changes: FieldChange[] | null;
}

/** A field an undo wants back: its value before (`restore`) and what the undone event left (`expected`). */
export interface UndoField {
  path: string;
  restore: JsonValue | undefined;
  expected: JsonValue | undefined;
  redacted: boolean;
}

export interface PlannedFields {
  changes: FieldChange[];
  skipped: RevertSkippedField[];
  targetState: JsonValue;
}

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const own = (object: JsonObject, key: string): JsonValue | undefined =>
  Object.hasOwn(object, key) ? object[key] : undefined;

/** The capture's own JSON equality (own keys only, arrays in order). */
export { deepEqual };

/** Why a value cannot be written back, or null: the first marker found anywhere inside it. */
export function unrestorable(value: JsonValue | undefined): RevertSkipReason | null {
  if (typeof value === 'string') {
    if (value === REDACTED) return 'redacted';
    if (value === ERASED) return 'erased';
    if (value === UNREADABLE || value.startsWith(PERSONAL_TOKEN)) return 'encrypted';
    if (value === CIRCULAR) return 'not-stored';
    return null;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const why = unrestorable(item);
      if (why) return why;
    }
    return null;
  }
  if (isObject(value)) {
    if (value.$truncated === true || (typeof value.$type === 'string' && value.omitted === true))
      return 'not-stored';
    for (const key of Object.keys(value)) {
      const why = unrestorable(value[key]);
      if (why) return why;
    }
  }
  return null;
}

/** A state the trail stored as a truncation marker (larger than `maxStateBytes`): no field of it is known. */
export const isTruncated = (state: JsonValue | null | undefined): boolean =>
  isObject(state) && state.$truncated === true;

/**
 * The record's state after these events, starting from `start`: a create sets it, a delete ends it, an
 * update (or revert) sets the top-level fields its after state reports (a handler's result may leave some out).
 */
export function foldStates(start: JsonValue | null, events: readonly StateEvent[]): JsonValue | null {
  let state = start;
  for (const event of events) {
    if (event.action === 'delete') state = null;
    else if (event.action === 'create' || !isObject(state) || !isObject(event.after))
      state = event.after ?? state;
    else state = { ...state, ...event.after };
  }
  return state;
}

const valueAt = (state: JsonValue | null | undefined, path: string): JsonValue | undefined => {
  let value: JsonValue | undefined = state ?? undefined;
  for (const key of path.split('.')) {
    if (!isObject(value)) return undefined;
    value = own(value, key);
  }
  return value;
};

/** Leaf-level differences current -> target: objects key by key, arrays and scalars as a whole. */
export function differences(current: JsonValue | null, target: JsonValue | null): FieldChange[] {
  const out: FieldChange[] = [];
  const walk = (left: JsonValue | undefined, right: JsonValue | undefined, path: string) => {
    if (isObject(left) && isObject(right)) {
      const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
      for (const key of keys) walk(own(left, key), own(right, key), path ? `${path}.${key}` : key);
    } else if (!deepEqual(left, right)) {
      out.push({ path, before: left, after: right });
    }
  };
  walk(current ?? undefined, target ?? undefined, '');
  return out;
}

/**
 * Restore to a version (`toEventId`): every field that differs from `target`. `redactedPaths` are secrets
 * the events since changed (the trail compares them without storing them): listed as skipped even though
 * both states read `[REDACTED]`.
 */
export function planRestore(
  current: JsonValue | null,
  target: JsonValue | null,
  fields: readonly string[] | undefined,
  redactedPaths: Iterable<string>,
): PlannedFields {
  const candidates = differences(current, target);
  const skipped: RevertSkippedField[] = [];
  for (const path of redactedPaths) skipped.push({ path, why: 'redacted' });
  return select(current, candidates, fields, skipped);
}

/**
 * Undo (`undoEventId`, a request): each field goes back to `restore`, unless it is no longer what the undone
 * event left (`changed-since`: a later change would be undone too).
 */
export function planUndo(
  current: JsonValue | null,
  undo: readonly UndoField[],
  fields: readonly string[] | undefined,
): PlannedFields {
  const candidates: FieldChange[] = [];
  const skipped: RevertSkippedField[] = [];
  for (const field of undo) {
    const now = valueAt(current, field.path);
    if (field.redacted) skipped.push({ path: field.path, why: 'redacted' });
    else if (!deepEqual(now, field.expected)) skipped.push({ path: field.path, why: 'changed-since' });
    else if (!deepEqual(now, field.restore))
      candidates.push({ path: field.path, before: now, after: field.restore });
  }
  return select(current, candidates, fields, skipped);
}

/**
 * The fields an undo wants back from a run of events (oldest first) of one resource: each path a change
 * names, its value in the first event's before state and in the last one's after state (read from the
 * states, not the change: a relationship's change lists only the members that joined and left).
 */
export function undoFields(events: readonly StateEvent[]): UndoField[] {
  const byPath = new Map<string, UndoField>();
  for (const event of events) {
    for (const change of event.changes ?? []) {
      const known = byPath.get(change.path);
      const after = event.after === null ? change.after : valueAt(event.after, change.path);
      if (known) {
        known.expected = after;
        known.redacted ||= change.redacted === true;
      } else {
        byPath.set(change.path, {
          path: change.path,
          restore: event.before === null ? change.before : valueAt(event.before, change.path),
          expected: after,
          redacted: change.redacted === true,
        });
      }
    }
  }
  return [...byPath.values()];
}

function select(
  current: JsonValue | null,
  candidates: FieldChange[],
  fields: readonly string[] | undefined,
  skipped: RevertSkippedField[],
): PlannedFields {
  const changes: FieldChange[] = [];
  const allowed = fields && new Set(fields);
  for (const change of candidates) {
    const why =
      (change.after === undefined ? 'absent-in-target' : null) ??
      unrestorable(change.after) ??
      (change.before === REDACTED ? 'redacted' : null) ??
      (allowed && !allowed.has(change.path.split('.')[0]) ? 'read-only' : null);
    if (why) skipped.push({ path: change.path, why });
    else changes.push(change);
  }
  const seen = new Set<string>();
  const unique = skipped.filter((skip) => !seen.has(skip.path) && seen.add(skip.path));
  return { changes, skipped: unique, targetState: applyChanges(current, changes) };
}

/** A copy of `state` with each change's `after` set at its path. */
export function applyChanges(state: JsonValue | null, changes: readonly FieldChange[]): JsonValue {
  const root: JsonValue = isObject(state) ? structuredClone(state) : {};
  for (const change of changes) {
    const keys = change.path.split('.');
    let node = root as JsonObject;
    for (const key of keys.slice(0, -1)) {
      if (!isObject(own(node, key))) node[key] = {};
      node = node[key] as JsonObject;
    }
    node[keys[keys.length - 1]] = structuredClone(change.after as JsonValue);
  }
  return root;
}
