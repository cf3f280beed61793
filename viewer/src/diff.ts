/**
 * Side-by-side rows of an event's before/after states: one row per field path (nested objects flattened to
 * dotted paths), changed fields marked. The API returns redacted, erased and undecryptable personal values as
 * markers; they become kinds of their own so the page shows them as such, never as blanks.
 */
export const REDACTED = '[REDACTED]';
export const ERASED = '[erased]';
export const UNAVAILABLE = '[encrypted]';

export type Cell =
  | { kind: 'absent' }
  | { kind: 'value'; text: string }
  | { kind: 'redacted' }
  | { kind: 'erased' }
  | { kind: 'encrypted' };

export interface FieldChange {
  path: string;
  before?: unknown;
  after?: unknown;
  redacted?: boolean;
  /** A list or relationship: members (or ids of a collection) that joined and left. */
  added?: unknown[];
  removed?: unknown[];
}

export interface DiffRow {
  path: string;
  before: Cell;
  after: Cell;
  changed: boolean;
  added?: unknown[];
  removed?: unknown[];
}

/** At most this many nested levels are flattened; deeper values are shown as JSON. */
const MAX_DEPTH = 6;

export function cellOf(value: unknown): Cell {
  if (value === undefined) return { kind: 'absent' };
  if (value === REDACTED) return { kind: 'redacted' };
  if (value === ERASED) return { kind: 'erased' };
  if (value === UNAVAILABLE) return { kind: 'encrypted' };
  return { kind: 'value', text: typeof value === 'string' ? value : JSON.stringify(value) };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Leaf values by dotted path. Arrays are leaves (shown as JSON); empty objects too. */
export function flatten(value: unknown, prefix = '', depth = 0, out = new Map<string, unknown>()) {
  if (isObject(value) && depth < MAX_DEPTH && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value))
      flatten(child, prefix ? `${prefix}.${key}` : key, depth + 1, out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function diffRows(before: unknown, after: unknown, changes: FieldChange[] | null = null): DiffRow[] {
  const left = flatten(before);
  const right = flatten(after);
  const changed = new Set((changes ?? []).map((c) => c.path));
  const underChanged = (path: string) =>
    changed.has(path) || [...changed].some((c) => path.startsWith(`${c}.`) || c.startsWith(`${path}.`));
  const paths = [...new Set([...left.keys(), ...right.keys()])];
  // Changes the states cannot show (a redacted field whose values were not stored): their own row.
  for (const change of changes ?? [])
    if (!left.has(change.path) && !right.has(change.path)) paths.push(change.path);
  const rows = paths.map((path): DiffRow => {
    const change = changes?.find((c) => c.path === path);
    const beforeValue = left.has(path) ? left.get(path) : change?.redacted ? REDACTED : change?.before;
    const afterValue = right.has(path) ? right.get(path) : change?.redacted ? REDACTED : change?.after;
    const differs = !sameValue(left.get(path), right.get(path)) && before != null && after != null;
    return {
      path,
      before: cellOf(beforeValue),
      after: cellOf(afterValue),
      // The event's own changes decide (they leave out ignored fields such as updatedAt); without them, the
      // values are compared.
      changed: underChanged(path) || (changes === null && differs),
      ...(change?.added || change?.removed
        ? { added: change.added ?? [], removed: change.removed ?? [] }
        : {}),
    };
  });
  return rows.sort((a, b) => Number(b.changed) - Number(a.changed) || a.path.localeCompare(b.path));
}

/** "plan: free -> pro, name" : a one-line summary of what changed, for timelines. */
export function changeSummary(changes: FieldChange[] | null, max = 3): string {
  if (!changes || changes.length === 0) return '';
  const shown = changes.slice(0, max).map((c) => {
    if (c.redacted) return `${c.path} (redacted)`;
    if (c.added || c.removed) return `${c.path}: ${membership(c.added, c.removed)}`;
    const text = (v: unknown) => {
      const cell = cellOf(v);
      return cell.kind === 'value' ? truncate(cell.text, 24) : cell.kind === 'absent' ? '-' : cell.kind;
    };
    return `${c.path}: ${text(c.before)} → ${text(c.after)}`;
  });
  return changes.length > max ? `${shown.join('; ')} (+${changes.length - max} more)` : shown.join('; ');
}

export const truncate = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

/** "+3, +4 −1": members (or ids) that joined and left a list or relationship. */
export function membership(added: unknown[] = [], removed: unknown[] = []): string {
  const show = (sign: string, items: unknown[]) =>
    items.map((item) => `${sign}${typeof item === 'string' ? item : JSON.stringify(item)}`);
  return [...show('+', added), ...show('−', removed)].join(' ') || 'reordered';
}
