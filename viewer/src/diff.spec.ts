import { ERASED, REDACTED, UNAVAILABLE, changeSummary, diffRows, flatten, membership } from './diff';

describe('side-by-side diff rows', () => {
  it('flattens nested objects to dotted paths, arrays and empty objects as leaves', () => {
    expect([...flatten({ a: 1, b: { c: [1, 2], d: {} }, e: null })]).toEqual([
      ['a', 1],
      ['b.c', [1, 2]],
      ['b.d', {}],
      ['e', null],
    ]);
  });

  it('marks the changed fields, changed first, and leaves the rest unmarked', () => {
    const rows = diffRows(
      { plan: 'free', name: 'A', address: { city: 'Oslo', zip: '0150' } },
      { plan: 'pro', name: 'A', address: { city: 'Bergen', zip: '0150' } },
      [
        { path: 'plan', before: 'free', after: 'pro' },
        { path: 'address.city', before: 'Oslo', after: 'Bergen' },
      ],
    );
    expect(rows.map((r) => [r.path, r.changed])).toEqual([
      ['address.city', true],
      ['plan', true],
      ['address.zip', false],
      ['name', false],
    ]);
    expect(rows[1].before).toEqual({ kind: 'value', text: 'free' });
    expect(rows[1].after).toEqual({ kind: 'value', text: 'pro' });
  });

  it('shows redacted, erased and undecryptable values as such, never as blanks', () => {
    const rows = diffRows(
      { password: REDACTED, email: ERASED, phone: UNAVAILABLE },
      { password: REDACTED, email: ERASED, phone: UNAVAILABLE },
      [],
    );
    const kinds = Object.fromEntries(rows.map((r) => [r.path, [r.before.kind, r.after.kind]]));
    expect(kinds).toEqual({
      email: ['erased', 'erased'],
      password: ['redacted', 'redacted'],
      phone: ['encrypted', 'encrypted'],
    });
  });

  it('gives a redacted change with no stored values its own row', () => {
    const rows = diffRows({ plan: 'free' }, { plan: 'free' }, [{ path: 'secret', redacted: true }]);
    expect(rows[0]).toEqual({
      path: 'secret',
      before: { kind: 'redacted' },
      after: { kind: 'redacted' },
      changed: true,
    });
  });

  it('marks fields that differ even when the event lists no changes, but not for a lone state', () => {
    expect(diffRows({ a: 1 }, { a: 2 }, null)[0].changed).toBe(true);
    // A create (no before) or a read (state only): nothing to compare, nothing marked by comparison.
    expect(diffRows(null, { a: 1 }, null)[0]).toMatchObject({ before: { kind: 'absent' }, changed: false });
  });

  it('carries the members a list or relationship gained and lost', () => {
    const rows = diffRows({ tagIds: ['a', 'b'] }, { tagIds: ['b', 'c'] }, [
      { path: 'tagIds', before: ['a', 'b'], after: ['b', 'c'], added: ['c'], removed: ['a'] },
      { path: 'lines', added: [9], removed: [] },
    ]);
    expect(rows.find((r) => r.path === 'tagIds')).toMatchObject({
      changed: true,
      added: ['c'],
      removed: ['a'],
    });
    // A collection entry without values (ids only) gets its own row.
    expect(rows.find((r) => r.path === 'lines')).toMatchObject({ changed: true, added: [9], removed: [] });
    expect(membership(['c'], ['a'])).toBe('+c −a');
    expect(membership([9], [])).toBe('+9');
    expect(membership([], [])).toBe('reordered');
  });

  it('summarizes changes on one line for timelines', () => {
    expect(
      changeSummary([
        { path: 'plan', before: 'free', after: 'pro' },
        { path: 'token', redacted: true },
        { path: 'n', before: 1, after: 2 },
        { path: 'x', before: null, after: 'y' },
      ]),
    ).toBe('plan: free → pro; token (redacted); n: 1 → 2 (+1 more)');
    expect(changeSummary(null)).toBe('');
  });
});
