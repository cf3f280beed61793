import { applyChanges, foldSteps, isPartialAfter, StateEvent, stepOf } from './as-of.state';

const event = (partial: Partial<StateEvent>): StateEvent => ({
  action: 'update',
  status: 'success',
  before: null,
  after: null,
  changes: null,
  ...partial,
});

describe('applyChanges', () => {
  it('sets, adds and removes top-level and nested fields, without touching its input', () => {
    const state = { plan: 'free', name: 'Ada', address: { city: 'Paris', zip: '75001' }, gone: 1 };
    const copy = structuredClone(state);
    const result = applyChanges(state, [
      { path: 'plan', before: 'free', after: 'pro' },
      { path: 'address.city', before: 'Paris', after: 'Lyon' },
      { path: 'address.country', after: 'FR' },
      { path: 'gone', before: 1 },
      { path: 'tags', after: ['a', 'b'] },
    ]);
    expect(result).toEqual({
      plan: 'pro',
      name: 'Ada',
      address: { city: 'Lyon', zip: '75001', country: 'FR' },
      tags: ['a', 'b'],
    });
    expect(state).toEqual(copy);
  });

  it('creates missing intermediate objects, and replaces a scalar in the way', () => {
    expect(applyChanges({ a: 1 }, [{ path: 'b.c.d', after: true }])).toEqual({ a: 1, b: { c: { d: true } } });
    expect(applyChanges({ b: 'x' }, [{ path: 'b.c', after: 2 }])).toEqual({ b: { c: 2 } });
  });

  it('removing what is not there is a no-op', () => {
    expect(applyChanges({ a: 1 }, [{ path: 'x.y', before: 1 }])).toEqual({ a: 1 });
  });

  it('reads dotted keys as keys when the state has them', () => {
    const state = { 'a.b': 1, a: { b: 0 }, 'x.y': { z: 1 } };
    expect(
      applyChanges(state, [
        { path: 'a.b', before: 1, after: 2 },
        { path: 'x.y.z', before: 1, after: 3 },
      ]),
    ).toEqual({ 'a.b': 2, a: { b: 0 }, 'x.y': { z: 3 } });
  });

  it('applies a change of a collection member by id, and skips membership changes it holds no values for', () => {
    const state = {
      lines: [
        { id: 7, quantity: 1 },
        { id: 8, quantity: 2 },
      ],
    };
    expect(
      applyChanges(state, [
        { path: 'lines[7].quantity', before: 1, after: 5 },
        { path: 'lines[9].quantity', before: 1, after: 5 }, // no such member: not invented
        { path: 'lines', before: undefined, after: undefined },
      ]),
    ).toEqual({
      lines: [
        { id: 7, quantity: 5 },
        { id: 8, quantity: 2 },
      ],
    });
  });

  it('keeps redacted values as the marker, and the empty path replaces the whole state', () => {
    expect(
      applyChanges({ password: '[REDACTED]' }, [
        { path: 'password', before: '[REDACTED]', after: '[REDACTED]', redacted: true },
      ]),
    ).toEqual({ password: '[REDACTED]' });
    expect(applyChanges({ a: 1 }, [{ path: '', before: { a: 1 }, after: 'scalar' }])).toBe('scalar');
    expect(applyChanges({ a: 1 }, [{ path: '', before: { a: 1 } }])).toBeNull();
  });

  it('treats __proto__ and constructor as data keys', () => {
    const result = applyChanges({}, [
      { path: '__proto__', after: { polluted: true } },
      { path: 'constructor.name', after: 'x' },
    ]) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).not.toHaveProperty('polluted');
    expect(result.polluted).toBeUndefined();
    expect(Object.hasOwn(result, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(result.constructor).toEqual({ name: 'x' });
  });

  it('starts from an empty object when there is no state', () => {
    expect(applyChanges(null, [{ path: 'a', after: 1 }])).toEqual({ a: 1 });
  });
});

describe('stepOf', () => {
  it('a successful delete, or a failure that removed the row, is a deletion', () => {
    expect(stepOf(event({ action: 'delete', before: { a: 1 } }))).toEqual({ kind: 'deleted' });
    expect(stepOf(event({ action: 'delete' }))).toEqual({ kind: 'deleted' });
    expect(stepOf(event({ status: 'failure', before: { a: 1 } }))).toEqual({ kind: 'deleted' });
    // A failed delete that changed nothing carries no state: not a deletion.
    expect(stepOf(event({ action: 'delete', status: 'failure' }))).toEqual({ kind: 'none' });
  });

  it('a create, or an after with a full diff, is the whole state', () => {
    expect(stepOf(event({ action: 'create', after: { a: 1 } }))).toEqual({ kind: 'full', state: { a: 1 } });
    const full = event({
      before: { a: 1, b: 2 },
      after: { a: 2 },
      changes: [
        { path: 'a', before: 1, after: 2 },
        { path: 'b', before: 2 },
      ],
    });
    expect(stepOf(full)).toEqual({ kind: 'full', state: { a: 2 } });
  });

  it('a partial after (a handler result leaving fields out) is overlaid on the before state', () => {
    const partial = event({
      before: { a: 1, passwordHash: '[REDACTED]', updatedAt: 't1' },
      after: { a: 2, updatedAt: 't2' },
      changes: [{ path: 'a', before: 1, after: 2 }],
    });
    expect(isPartialAfter(partial.before, partial.after, partial.changes)).toBe(true);
    expect(stepOf(partial)).toEqual({
      kind: 'full',
      state: { a: 2, passwordHash: '[REDACTED]', updatedAt: 't2' },
    });
  });

  it('an after without a before state (not a create) is a patch; changes alone are changes', () => {
    expect(stepOf(event({ after: { plan: 'pro' } }))).toEqual({ kind: 'patch', after: { plan: 'pro' } });
    const changes = [{ path: 'plan', before: 'free', after: 'pro' }];
    expect(stepOf(event({ changes }))).toEqual({ kind: 'changes', changes });
    expect(stepOf(event({ action: 'read' }))).toEqual({ kind: 'none' });
  });
});

describe('foldSteps', () => {
  const create = event({ action: 'create', after: { plan: 'free', name: 'Ada' } });

  it('the newest full state wins at once', () => {
    const update = event({
      before: { plan: 'free' },
      after: { plan: 'pro' },
      changes: [{ path: 'plan', before: 'free', after: 'pro' }],
    });
    expect(foldSteps([update, create])).toEqual({ state: { plan: 'pro' }, complete: true });
  });

  it('applies partial steps forward from the nearest full state', () => {
    const patch = event({ after: { plan: 'pro' } });
    const changes = event({ changes: [{ path: 'name', before: 'Ada', after: 'Grace' }] });
    expect(foldSteps([changes, patch, create])).toEqual({
      state: { plan: 'pro', name: 'Grace' },
      complete: true,
    });
  });

  it('reports an incomplete run, and a deletion ends the state', () => {
    expect(foldSteps([event({ after: { plan: 'pro' } })])).toEqual({
      state: { plan: 'pro' },
      complete: false,
    });
    expect(foldSteps([event({ action: 'delete', before: { plan: 'pro' } }), create])).toEqual({
      state: null,
      complete: true,
    });
    expect(foldSteps([event({ after: { plan: 'pro' } }), event({ action: 'delete' })])).toEqual({
      state: { plan: 'pro' },
      complete: true,
    });
  });
});
