/**
 * The pure part of "as of": what one stored event says about its resource's state, and how a chain of
 * events folds into the state at an instant. No I/O here (as-of.service.ts reads and decrypts).
 */

/** A stored field change (`changes` of an event): `after` absent = the field was removed. */
export interface StoredChange {
  path: string;
  before?: unknown;
  after?: unknown;
  redacted?: boolean;
}

/** The columns of an event that bear on its resource's state. */
export interface StateEvent {
  action: string;
  status: string;
  before: unknown;
  after: unknown;
  changes: unknown;
}

/**
 * What one event says about the state after it:
 * - `deleted`: the resource is gone (a successful `delete`, or a failed request that removed the row before
 *   it threw: status failure with a before state and no after, see the interceptor's captureFailure);
 * - `full`: the whole state after the event is known (`state`);
 * - `patch`: only part of it: `state` overlaid on the previous state (`after` without a before state:
 *   an update whose before state was not loaded, or `AuditService.record` with `after` only), or
 *   `changes` applied to it (an event with changes and no after);
 * - `none`: nothing (an update without after and changes, a read...): the state is unchanged.
 */
export type StateStep =
  | { kind: 'deleted' }
  | { kind: 'full'; state: unknown }
  | { kind: 'patch'; after: unknown }
  | { kind: 'changes'; changes: StoredChange[] }
  | { kind: 'none' };

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const present = (value: unknown) => value !== null && value !== undefined;

/**
 * The SQL twin of `stepOf(...).kind !== 'none'`: the events worth reading for a state (the repository's
 * filter). Kept next to stepOf so the two stay in step.
 */
export const STATE_EVENT_SQL = `(after IS NOT NULL OR changes IS NOT NULL
   OR (status = 'success' AND action = 'delete') OR (status = 'failure' AND before IS NOT NULL))`;

/**
 * Whether `after` left out top-level fields of `before` without reporting them removed. The interceptor
 * records an update's after as the handler's result (`partialAfter`): a field the handler omits (a
 * password hash) is "not reported", not removed, and the diff skips it. A full diff (AuditService.record
 * with both states, the transactional subscriber, a failure diffed after the fact) lists every removed
 * field as a change `{ path, before }`. So a field of `before` that is missing from `after` and has no
 * change at its path marks the after state as partial.
 */
export function isPartialAfter(before: unknown, after: unknown, changes: unknown): boolean {
  if (!isObject(before) || !isObject(after)) return false;
  const changed = new Set(Array.isArray(changes) ? changes.map((c: StoredChange) => c?.path) : []);
  return Object.keys(before).some((key) => !Object.hasOwn(after, key) && !changed.has(key));
}

/** What the event says about the state after it (see StateStep). */
export function stepOf(event: StateEvent): StateStep {
  const { before, after, changes } = event;
  if (event.status === 'success' && event.action === 'delete') return { kind: 'deleted' };
  if (event.status === 'failure' && !present(after) && present(before)) return { kind: 'deleted' };
  if (present(after)) {
    if (present(before)) {
      if (!isPartialAfter(before, after, changes)) return { kind: 'full', state: after };
      // Before is the row as loaded just before the change, after the fields the change reported: together
      // they are the whole state. (Overlaid, not rebuilt from `changes`: ignored fields such as updatedAt
      // and a collection's joined members are in `after` but not, with their values, in `changes`.)
      return { kind: 'full', state: { ...(before as JsonObject), ...(after as JsonObject) } };
    }
    return event.action === 'create' ? { kind: 'full', state: after } : { kind: 'patch', after };
  }
  if (Array.isArray(changes)) return { kind: 'changes', changes: changes as StoredChange[] };
  return { kind: 'none' };
}

/**
 * The state after a run of events, given newest first (as the repository reads them): walks back to the
 * newest event whose step is `deleted` or `full` (the nearest full state), then applies the partial steps
 * after it, oldest first. `complete` is false when the run holds no such event (the caller reads older
 * events, or, at the start of the history, applies the steps to nothing).
 */
export function foldSteps(newestFirst: StateEvent[]): { state: unknown; complete: boolean } {
  const steps = newestFirst.map(stepOf);
  let anchor = steps.findIndex((s) => s.kind === 'full' || s.kind === 'deleted');
  const complete = anchor !== -1;
  if (!complete) anchor = steps.length;
  const base = steps[anchor];
  let state: unknown = base?.kind === 'full' ? base.state : null;
  for (let i = anchor - 1; i >= 0; i--) state = applyStep(state, steps[i]);
  return { state, complete };
}

/** A partial step applied to a state (null: none yet, or deleted). */
export function applyStep(state: unknown, step: StateStep): unknown {
  switch (step.kind) {
    case 'full':
      return step.state;
    case 'deleted':
      return null;
    case 'patch':
      return isObject(step.after) ? { ...(isObject(state) ? state : {}), ...step.after } : step.after;
    case 'changes':
      return applyChanges(isObject(state) ? state : {}, step.changes);
    case 'none':
      return state;
  }
}

/**
 * The state with a diff (`diffStates`' changes) applied, oldest change first. A change sets its path to its
 * `after`, or removes the field when it has a `before` and no `after`; missing intermediate objects are
 * created. Paths are dot-joined keys with `[id]` for a member of a collection of objects by id
 * (`lines[7].quantity`); a key that itself holds a dot is ambiguous: an existing key matching the rest of
 * the path, or the longest existing key that prefixes it, wins. The empty path is the whole state.
 * Redacted changes carry `"[REDACTED]"`, which is what the state holds. What a change cannot say is left
 * as it was: the members that joined or left a collection of objects (only their ids are stored), a
 * secret rotated inside one. Pure: the input is not modified.
 */
export function applyChanges(state: unknown, changes: readonly StoredChange[]): unknown {
  let result: unknown = structuredClone(state ?? {});
  for (const change of changes) {
    if (!change || typeof change.path !== 'string') continue;
    const hasAfter = change.after !== undefined;
    const hasBefore = change.before !== undefined;
    if (!hasAfter && !hasBefore) continue; // collection membership or a secret inside it: no values stored
    if (change.path === '') {
      result = hasAfter ? structuredClone(change.after) : null;
      continue;
    }
    if (!isObject(result)) result = {};
    setPath(
      result as JsonObject,
      change.path,
      hasAfter ? structuredClone(change.after) : undefined,
      !hasAfter,
    );
  }
  return result;
}

const BY_ID = /^\[([^\]]*)\]/;

/** The next key of `rest` at `target`: an existing key that ends the path or prefixes it (longest first). */
function nextKey(target: JsonObject, rest: string): string {
  if (Object.hasOwn(target, rest)) return rest;
  let best: string | null = null;
  for (const key of Object.keys(target)) {
    const next = rest.charAt(key.length);
    if ((next === '.' || next === '[') && rest.startsWith(key) && (best === null || key.length > best.length))
      best = key;
  }
  return best ?? rest.slice(0, rest.search(/[.[]|$/));
}

function setPath(root: JsonObject, path: string, value: unknown, remove: boolean): void {
  let target: JsonObject = root;
  let rest = path;
  for (;;) {
    const key = nextKey(target, rest);
    rest = rest.slice(key.length);
    if (rest === '') {
      if (remove) delete target[key];
      else put(target, key, value);
      return;
    }
    let child = Object.hasOwn(target, key) ? target[key] : undefined;
    const member = BY_ID.exec(rest);
    if (member) {
      // `key[id]`: the member of the collection whose id reads `id`; one that is not there is not invented.
      child = Array.isArray(child)
        ? child.find((item: unknown) => isObject(item) && String(item.id) === member[1])
        : undefined;
      rest = rest.slice(member[0].length);
      if (!isObject(child) || rest === '') return; // a whole member joins or leaves: ids only, see above
    }
    if (!rest.startsWith('.')) return;
    rest = rest.slice(1);
    if (!isObject(child)) {
      if (remove) return; // nothing there to remove
      child = {};
      put(target, key, child);
    }
    target = child as JsonObject;
  }
}

/** An own data property, whatever the key (`__proto__` included: keys are data, never the prototype). */
function put(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}
