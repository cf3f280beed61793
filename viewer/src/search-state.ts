/**
 * The search as the URL holds it: shareable, and the back button returns to the previous search. Relative
 * presets stay relative in the URL ("last 24 hours" means the 24 hours before the link is opened).
 */
export const PRESETS = ['1h', '24h', '7d', '30d', '90d', 'all', 'custom'] as const;
export type Preset = (typeof PRESETS)[number];

export const PRESET_LABELS: Record<Preset, string> = {
  '1h': 'Last hour',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  '90d': 'Last 90 days',
  all: 'All time',
  custom: 'Custom range',
};

const PRESET_MS: Partial<Record<Preset, number>> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
  '90d': 90 * 86_400_000,
};

export const DEFAULT_PRESET: Preset = '30d';

/** The filters, by the admin API's own parameter names. */
export const FILTERS = [
  'organizationId',
  'actorId',
  'resourceType',
  'resourceId',
  'action',
  'status',
  'severity',
  'q',
] as const;
export type Filter = (typeof FILTERS)[number];

export interface SearchState extends Partial<Record<Filter, string>> {
  range: Preset;
  /** Custom range only: ISO instants, [from, to). */
  from?: string;
  to?: string;
}

const isPreset = (value: string | null): value is Preset => PRESETS.includes(value as Preset);

export function parseSearch(search: string): SearchState {
  const params = new URLSearchParams(search);
  const range = params.get('range');
  const state: SearchState = { range: isPreset(range) ? range : DEFAULT_PRESET };
  for (const name of FILTERS) {
    const value = params.get(name)?.trim();
    if (value) state[name] = value;
  }
  if (state.range === 'custom') {
    for (const bound of ['from', 'to'] as const) {
      const value = params.get(bound);
      if (value && !Number.isNaN(Date.parse(value))) state[bound] = new Date(value).toISOString();
    }
  }
  return state;
}

/** The canonical query string (same search, same URL): fixed order, no empty or default values. */
export function toSearch(state: SearchState): string {
  const params = new URLSearchParams();
  if (state.range !== DEFAULT_PRESET) params.set('range', state.range);
  if (state.range === 'custom') {
    if (state.from) params.set('from', state.from);
    if (state.to) params.set('to', state.to);
  }
  for (const name of FILTERS) {
    const value = state[name]?.trim();
    if (value) params.set(name, value);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The admin API's parameters for this search at `now` (a preset becomes its from/to). */
export function apiFilters(state: SearchState, now = new Date()): Record<string, string> {
  const out: Record<string, string> = {};
  const span = PRESET_MS[state.range];
  if (span !== undefined) out.from = new Date(now.getTime() - span).toISOString();
  if (state.range === 'custom') {
    if (state.from) out.from = state.from;
    if (state.to) out.to = state.to;
  }
  for (const name of FILTERS) {
    const value = state[name]?.trim();
    if (value) out[name] = value;
  }
  return out;
}

/** A value for `<input type="datetime-local">` (local time, minutes) from an ISO instant, and back. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
