import { useMemo, useState } from 'preact/hooks';
import { type Identity, canReadAll } from '../api';
import { Message } from '../components/badges';
import { EventTable } from '../components/event-table';
import { ExportButtons } from '../components/export-button';
import { prefetchFirstPage, usePages } from '../components/use-pages';
import { navigate } from '../router';
import {
  type Filter,
  PRESETS,
  PRESET_LABELS,
  type Preset,
  type SearchState,
  apiFilters,
  fromLocalInput,
  parseSearch,
  toLocalInput,
  toSearch,
} from '../search-state';

const ACTIONS = ['create', 'read', 'list', 'update', 'delete'];

/** The search the page opened with, its presets resolved once: the prefetch and the results share it. */
let opening: { search: string; filters: Record<string, string> } | null = null;

const takeOpening = (search: string) => {
  const filters = opening?.search === search ? opening.filters : null;
  opening = null;
  return filters;
};

/** Asks for the opening search's first page right away, while the page checks who the reader is. */
export function prefetchSearch(search: string): void {
  opening = { search, filters: apiFilters(parseSearch(search)) };
  prefetchFirstPage('events', opening.filters, JSON.stringify(opening.filters));
}

/** Search: the form edits a draft; submitting puts the whole query in the URL, which drives the results. */
export function SearchPage({ search, me }: { search: string; me: Identity }) {
  const state = useMemo(() => parseSearch(search), [search]);
  const key = toSearch(state);
  // Presets resolve against the time the search was made (and again when it is made again).
  const filters = useMemo(() => takeOpening(search) ?? apiFilters(state), [key]);
  const pages = usePages('events', filters, JSON.stringify(filters));
  const allOrgs = canReadAll(me);

  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">Search the audit trail</h1>
      <SearchForm key={key} initial={state} allOrgs={allOrgs} />
      <ExportButtons filters={filters} />
      {pages.error && <Message kind="error">{pages.error}</Message>}
      <EventTable
        label="Matching events, newest first"
        events={pages.events}
        hasMore={pages.hasMore}
        loading={pages.loading}
        onLoadMore={pages.loadMore}
        showOrganization={allOrgs}
      />
    </section>
  );
}

function SearchForm({ initial, allOrgs }: { initial: SearchState; allOrgs: boolean }) {
  const [draft, setDraft] = useState<SearchState>(initial);
  const set = (name: Filter | 'from' | 'to', value: string | undefined) =>
    setDraft({ ...draft, [name]: value });
  const text = (name: Filter, label: string, placeholder = '') => (
    <label class="field">
      <span>{label}</span>
      <input
        name={name}
        type="search"
        value={draft[name] ?? ''}
        placeholder={placeholder}
        onInput={(e) => set(name, (e.target as HTMLInputElement).value)}
      />
    </label>
  );
  const choice = (name: Filter, label: string, options: string[]) => (
    <label class="field">
      <span>{label}</span>
      <select
        name={name}
        value={draft[name] ?? ''}
        onChange={(e) => set(name, (e.target as HTMLSelectElement).value || undefined)}
      >
        <option value="">Any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
  const submit = (event: Event) => {
    event.preventDefault();
    navigate(toSearch(draft) || '/');
  };
  return (
    <form class="search-form" role="search" aria-label="Search events" onSubmit={submit}>
      <label class="field">
        <span>Time range</span>
        <select
          name="range"
          value={draft.range}
          onChange={(e) => setDraft({ ...draft, range: (e.target as HTMLSelectElement).value as Preset })}
        >
          {PRESETS.map((p) => (
            <option key={p} value={p}>
              {PRESET_LABELS[p]}
            </option>
          ))}
        </select>
      </label>
      {draft.range === 'custom' && (
        <>
          <label class="field">
            <span>From</span>
            <input
              name="from"
              type="datetime-local"
              value={toLocalInput(draft.from)}
              onInput={(e) => set('from', fromLocalInput((e.target as HTMLInputElement).value))}
            />
          </label>
          <label class="field">
            <span>To</span>
            <input
              name="to"
              type="datetime-local"
              value={toLocalInput(draft.to)}
              onInput={(e) => set('to', fromLocalInput((e.target as HTMLInputElement).value))}
            />
          </label>
        </>
      )}
      {allOrgs && text('organizationId', 'Organization', 'all')}
      {text('actorId', 'Actor', 'user id')}
      {text('resourceType', 'Resource type', 'e.g. account')}
      {text('resourceId', 'Resource id')}
      <label class="field">
        <span>Action</span>
        <input
          name="action"
          list="audit-actions"
          value={draft.action ?? ''}
          onInput={(e) => set('action', (e.target as HTMLInputElement).value || undefined)}
        />
        <datalist id="audit-actions">
          {ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      </label>
      {choice('status', 'Status', ['success', 'failure'])}
      {choice('severity', 'Severity', ['info', 'notice', 'warning', 'critical'])}
      {text('q', 'Text', 'words in types, resources, states')}
      <div class="form-actions">
        <button type="submit" class="primary">
          Search
        </button>
        <button type="button" onClick={() => navigate('/')}>
          Reset
        </button>
      </div>
    </form>
  );
}
