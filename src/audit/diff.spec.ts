import { deepEqual, diffStates } from './diff';
import { JsonValue } from './audit.types';
import { DEFAULT_REDACT_KEYS, RedactedValues, RedactionRules, sanitizeState } from './redaction';
import { REDACTED } from '../common/serialization/safe-serialize';

const rules = RedactionRules.fromKeys(DEFAULT_REDACT_KEYS);

/** Diffs two raw states the way the event factory does: sanitized, with the values redaction removed. */
function diffSanitized(beforeInput: unknown, afterInput: unknown) {
  const before = sanitizeState(beforeInput, rules, 64 * 1024);
  const after = sanitizeState(afterInput, rules, 64 * 1024);
  // Small states are never truncated, so the values are plain JSON.
  return diffStates(before.value as JsonValue, after.value as JsonValue, {
    beforeRedacted: before.redacted,
    afterRedacted: after.redacted,
  });
}

function redactedValues(values: Record<string, unknown>): RedactedValues {
  const redacted = new RedactedValues();
  for (const [path, value] of Object.entries(values)) redacted.set(path, value);
  return redacted;
}

describe('diffStates', () => {
  it('reports a changed scalar with both values', () => {
    expect(diffStates({ name: 'Ada', plan: 'free' }, { name: 'Ada', plan: 'pro' })).toEqual([
      { path: 'plan', before: 'free', after: 'pro' },
    ]);
  });

  it('reports a nested change by its dotted path', () => {
    const before = { address: { city: 'Paris', zip: '75001' } };
    const after = { address: { city: 'Lyon', zip: '75001' } };
    expect(diffStates(before, after)).toEqual([{ path: 'address.city', before: 'Paris', after: 'Lyon' }]);
  });

  it('reports a list of scalars with the members added and removed', () => {
    expect(
      diffStates({ tags: ['a', 'b'], items: [{ id: 1 }] }, { tags: ['a', 'c'], items: [{ id: 1 }] }),
    ).toEqual([{ path: 'tags', before: ['a', 'b'], after: ['a', 'c'], added: ['c'], removed: ['b'] }]);
    // Duplicates count: a many-to-many link added twice is one more member.
    expect(diffStates({ roleIds: [1, 2] }, { roleIds: [1, 2, 2] })).toEqual([
      { path: 'roleIds', before: [1, 2], after: [1, 2, 2], added: [2], removed: [] },
    ]);
  });

  it('reports a collection of objects with ids by ids added and removed, and member fields by id', () => {
    const before = {
      lines: [
        { id: 7, sku: 'A', quantity: 1 },
        { id: 8, sku: 'B', quantity: 2 },
      ],
    };
    const after = {
      lines: [
        { id: 9, sku: 'C', quantity: 1 },
        { id: 7, sku: 'A', quantity: 3 },
      ],
    };
    expect(diffStates(before, after)).toEqual([
      { path: 'lines', added: [9], removed: [8] },
      { path: 'lines[7].quantity', before: 1, after: 3 },
    ]);
    // Loaded relations (string ids), reordered only: not a change.
    const tags = [
      { id: 'x', name: 'X' },
      { id: 'y', name: 'Y' },
    ];
    expect(diffStates({ tags }, { tags: [tags[1], tags[0]] })).toEqual([]);
  });

  it('compares arrays that are neither lists of scalars nor collections by id as a whole', () => {
    expect(diffStates({ points: [{ x: 1 }] }, { points: [{ x: 2 }] })).toEqual([
      { path: 'points', before: [{ x: 1 }], after: [{ x: 2 }] },
    ]);
    expect(diffStates({ rows: [{ id: 1 }, { id: 1 }] }, { rows: [{ id: 1 }] })).toEqual([
      { path: 'rows', before: [{ id: 1 }, { id: 1 }], after: [{ id: 1 }] },
    ]);
  });

  it('leaves ignored fields out of the changes, by name at any depth or by dotted path', () => {
    const before = { plan: 'free', updatedAt: 't1', version: 1, lines: [{ id: 1, syncedAt: 'a', qty: 1 }] };
    const after = { plan: 'free', updatedAt: 't2', version: 2, lines: [{ id: 1, syncedAt: 'b', qty: 1 }] };
    expect(diffStates(before, after, { ignore: ['updatedAt', 'version', 'lines.*.syncedAt'] })).toEqual([]);
    expect(diffStates(before, { ...after, plan: 'pro' }, { ignore: ['updatedAt', 'version'] })).toEqual([
      { path: 'plan', before: 'free', after: 'pro' },
      { path: 'lines[1].syncedAt', before: 'a', after: 'b' },
    ]);
  });

  it('reports added and removed keys, nested ones included', () => {
    const changes = diffStates(
      { old: 1, address: { city: 'Paris' } },
      { added: 2, address: { city: 'Paris', zip: '75001' } },
    );
    expect(changes).toHaveLength(3);
    expect(changes).toEqual(
      expect.arrayContaining([
        { path: 'old', before: 1, after: undefined },
        { path: 'added', before: undefined, after: 2 },
        { path: 'address.zip', before: undefined, after: '75001' },
      ]),
    );
  });

  it('reports a change of type (object to scalar) at that path', () => {
    expect(diffStates({ owner: { id: 1 } }, { owner: null })).toEqual([
      { path: 'owner', before: { id: 1 }, after: null },
    ]);
  });

  it('finds no change between deep-equal states whose keys are in another order', () => {
    const before = { a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } };
    const after = { b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 };
    expect(diffStates(before, after)).toEqual([]);
  });

  it('finds no change between two missing states', () => {
    expect(diffStates(null, null)).toEqual([]);
  });

  describe('partialAfter', () => {
    const before = { name: 'Ada', plan: 'free', address: { city: 'Paris', zip: '75001' } };

    it('ignores top-level keys missing from the after state', () => {
      expect(diffStates(before, { plan: 'pro' }, { partialAfter: true })).toEqual([
        { path: 'plan', before: 'free', after: 'pro' },
      ]);
    });

    it('still reports top-level keys missing from the after state without it', () => {
      expect(diffStates(before, { plan: 'pro' })).toHaveLength(3);
    });

    it('still reports a key removed inside a returned object', () => {
      expect(diffStates(before, { address: { city: 'Paris' } }, { partialAfter: true })).toEqual([
        { path: 'address.zip', before: '75001', after: undefined },
      ]);
    });
  });

  describe('redacted fields', () => {
    const redactedChange = (path: string) => ({ path, before: REDACTED, after: REDACTED, redacted: true });

    it('reports a redacted field without values when the removed values differ', () => {
      const changes = diffStates(
        { password: REDACTED },
        { password: REDACTED },
        {
          beforeRedacted: redactedValues({ password: 'p-1' }),
          afterRedacted: redactedValues({ password: 'p-2' }),
        },
      );
      expect(changes).toEqual([redactedChange('password')]);
    });

    it('reports nothing for a redacted field whose value is unchanged', () => {
      const changes = diffStates(
        { password: REDACTED, name: 'Ada' },
        { password: REDACTED, name: 'Ada' },
        {
          beforeRedacted: redactedValues({ password: 'p-1' }),
          afterRedacted: redactedValues({ password: 'p-1' }),
        },
      );
      expect(changes).toEqual([]);
    });

    it('detects a changed secret in sanitized states, at its nested path', () => {
      const changes = diffSanitized(
        { name: 'Ada', credentials: { apiKey: 'old-key' } },
        { name: 'Ada', credentials: { apiKey: 'new-key' } },
      );
      expect(changes).toEqual([redactedChange('credentials.apiKey')]);
    });

    it('reports nothing when the secret is unchanged in sanitized states', () => {
      expect(diffSanitized({ credentials: { apiKey: 'same' } }, { credentials: { apiKey: 'same' } })).toEqual(
        [],
      );
    });

    it('reports a secret that appears or disappears as redacted, the absent side left out', () => {
      expect(diffSanitized({ name: 'Ada' }, { name: 'Ada', password: 'p' })).toEqual([
        { path: 'password', after: REDACTED, redacted: true },
      ]);
      expect(diffSanitized({ name: 'Ada', password: 'p' }, { name: 'Ada' })).toEqual([
        { path: 'password', before: REDACTED, redacted: true },
      ]);
    });

    it('detects a changed secret inside an array element', () => {
      // A rotated webhook secret is a change worth auditing even though arrays are compared whole.
      const changes = diffSanitized(
        { webhooks: [{ url: 'https://example.com/hook', secret: 'old-secret' }] },
        { webhooks: [{ url: 'https://example.com/hook', secret: 'new-secret' }] },
      );
      expect(changes).toHaveLength(1);
      expect(changes[0].path).toMatch(/^webhooks/);
      expect(JSON.stringify(changes)).not.toMatch(/old-secret|new-secret/);
    });
  });
});

describe('deepEqual', () => {
  it('compares scalars by value', () => {
    expect(deepEqual('a', 'a')).toBe(true);
    expect(deepEqual(1, 1)).toBe(true);
    expect(deepEqual(1, '1')).toBe(false);
    expect(deepEqual(null, null)).toBe(true);
    expect(deepEqual(null, undefined)).toBe(false);
  });

  it('compares arrays item by item, in order', () => {
    expect(deepEqual([1, [2, 3]], [1, [2, 3]])).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual([1, 2], [1, 2, 3])).toBe(false);
  });

  it('compares objects key by key, whatever the key order', () => {
    expect(deepEqual({ a: 1, b: { c: [1] } }, { b: { c: [1] }, a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(deepEqual({ a: null }, { b: null })).toBe(false);
    expect(deepEqual({ a: { b: 1 } }, { a: { b: 2 } })).toBe(false);
  });

  it('tells objects, arrays and null apart', () => {
    expect(deepEqual({}, [])).toBe(false);
    expect(deepEqual([], {})).toBe(false);
    expect(deepEqual({}, null)).toBe(false);
    expect(deepEqual({ toString: 'x' }, { other: 'x' })).toBe(false);
  });
});

describe('hostile keys', () => {
  it('treats constructor, toString and __proto__ as fields: present on one side only, they are added or removed', () => {
    const after = JSON.parse(
      '{"name": "Ada", "constructor": "x", "toString": 1, "__proto__": {"isAdmin": true}}',
    );
    expect(diffStates({ name: 'Ada' }, after)).toEqual([
      { path: 'constructor', before: undefined, after: 'x' },
      { path: 'toString', before: undefined, after: 1 },
      { path: '__proto__', before: undefined, after: { isAdmin: true } },
    ]);
    expect(diffStates(after, { name: 'Ada' })).toEqual([
      { path: 'constructor', before: 'x', after: undefined },
      { path: 'toString', before: 1, after: undefined },
      { path: '__proto__', before: { isAdmin: true }, after: undefined },
    ]);
  });

  it('compares nested __proto__ fields as data, and never reads a prototype', () => {
    const before = JSON.parse('{"__proto__": {"role": "user"}}');
    const after = JSON.parse('{"__proto__": {"role": "admin"}}');
    expect(diffStates(before, after)).toEqual([{ path: '__proto__.role', before: 'user', after: 'admin' }]);
    expect(
      diffSanitized({ profile: {} }, JSON.parse('{"profile": {"constructor": {"name": "Evil"}}}')),
    ).toEqual([{ path: 'profile.constructor', before: undefined, after: { name: 'Evil' } }]);
  });

  it('reports a changed secret under a __proto__ key without its value', () => {
    const changes = diffSanitized(
      JSON.parse('{"__proto__": {"password": "old"}}'),
      JSON.parse('{"__proto__": {"password": "new"}}'),
    );
    expect(changes).toEqual([
      { path: '__proto__.password', before: REDACTED, after: REDACTED, redacted: true },
    ]);
    expect(({} as { password?: unknown }).password).toBeUndefined();
  });
});
