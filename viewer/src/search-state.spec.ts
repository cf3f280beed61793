import {
  DEFAULT_PRESET,
  apiFilters,
  fromLocalInput,
  parseSearch,
  toLocalInput,
  toSearch,
} from './search-state';

describe('search state in the URL', () => {
  const now = new Date('2026-12-07T12:00:00.000Z');

  it('round-trips every filter through a canonical query string', () => {
    const state = {
      range: '7d' as const,
      organizationId: 'org-a',
      actorId: 'alice',
      resourceType: 'account',
      resourceId: 'a b/c',
      action: 'update',
      status: 'failure',
      severity: 'critical',
      q: 'plan pro',
    };
    const search = toSearch(state);
    expect(parseSearch(search)).toEqual(state);
    // Same search, same URL, whatever order the fields were set in.
    expect(toSearch({ ...parseSearch(search) })).toBe(search);
  });

  it('leaves defaults and blanks out of the URL', () => {
    expect(toSearch({ range: DEFAULT_PRESET })).toBe('');
    expect(toSearch({ range: DEFAULT_PRESET, actorId: '  ', q: '' })).toBe('');
    expect(parseSearch('')).toEqual({ range: DEFAULT_PRESET });
  });

  it('ignores an unknown preset and unparseable custom bounds', () => {
    expect(parseSearch('?range=forever').range).toBe(DEFAULT_PRESET);
    expect(parseSearch('?range=custom&from=yesterday&to=2026-12-01T00:00:00Z')).toEqual({
      range: 'custom',
      to: '2026-12-01T00:00:00.000Z',
    });
    // from/to only mean something with a custom range.
    expect(parseSearch('?range=24h&from=2026-01-01T00:00:00Z')).toEqual({ range: '24h' });
  });

  it('turns a relative preset into from at the time of the search, and all time into no bound', () => {
    expect(apiFilters({ range: '24h', action: 'read' }, now)).toEqual({
      from: '2026-12-06T12:00:00.000Z',
      action: 'read',
    });
    expect(apiFilters({ range: 'all' }, now)).toEqual({});
    expect(
      apiFilters({ range: 'custom', from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T00:00:00.000Z' }, now),
    ).toEqual({ from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T00:00:00.000Z' });
  });

  it('converts datetime-local input values to instants and back', () => {
    const iso = fromLocalInput('2026-11-05T09:30');
    expect(iso).toBe(new Date(2026, 10, 5, 9, 30).toISOString());
    expect(toLocalInput(iso)).toBe('2026-11-05T09:30');
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('not a date')).toBeUndefined();
  });
});
