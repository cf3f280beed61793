import { ERASED, REDACTED } from '../audit';
import {
  applyChanges,
  differences,
  foldStates,
  planRestore,
  planUndo,
  StateEvent,
  undoFields,
  unrestorable,
} from './revert-plan';

const event = (action: string, before: unknown, after: unknown, changes: unknown = null): StateEvent =>
  ({ id: `${action}-${Math.random()}`, action, before, after, changes }) as StateEvent;

describe('revert plan', () => {
  it('names why a value cannot be written back', () => {
    expect(unrestorable('pro')).toBeNull();
    expect(unrestorable(REDACTED)).toBe('redacted');
    expect(unrestorable(ERASED)).toBe('erased');
    expect(unrestorable('[encrypted]')).toBe('encrypted');
    expect(unrestorable('pii:v1:abc')).toBe('encrypted');
    expect(unrestorable({ $type: 'Buffer', length: 9000, omitted: true })).toBe('not-stored');
    expect(unrestorable([{ a: 1 }, { token: REDACTED }])).toBe('redacted');
    expect(unrestorable({ address: { city: ERASED } })).toBe('erased');
  });

  it('folds states: partial afters over the state, a delete ends it, a create starts it', () => {
    const start = { id: 1, name: 'a', plan: 'free' };
    expect(foldStates(start, [event('update', null, { plan: 'pro' })])).toEqual({
      id: 1,
      name: 'a',
      plan: 'pro',
    });
    expect(foldStates(start, [event('delete', start, null)])).toBeNull();
    expect(
      foldStates(start, [event('delete', start, null), event('create', null, { id: 1, name: 'b' })]),
    ).toEqual({
      id: 1,
      name: 'b',
    });
  });

  it('diffs leaf by leaf, arrays whole', () => {
    expect(differences({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: 1, c: 3 }, l: [1] })).toEqual([
      { path: 'a.c', before: 2, after: 3 },
      { path: 'l', before: [1, 2], after: [1] },
    ]);
  });

  it('restores a version: secrets, erased values, fields not allowed and absent ones are skipped', () => {
    const current = {
      name: 'B',
      plan: 'pro',
      email: ERASED,
      passwordHash: REDACTED,
      updatedAt: 't2',
      extra: 1,
    };
    const target = { name: 'A', plan: 'free', email: ERASED, passwordHash: REDACTED, updatedAt: 't1' };
    const plan = planRestore(current, target, ['name', 'plan', 'email'], ['passwordHash']);
    expect(plan.changes).toEqual([
      { path: 'name', before: 'B', after: 'A' },
      { path: 'plan', before: 'pro', after: 'free' },
    ]);
    expect(plan.skipped).toEqual([
      { path: 'passwordHash', why: 'redacted' },
      { path: 'updatedAt', why: 'read-only' },
      { path: 'extra', why: 'absent-in-target' },
    ]);
    expect(plan.targetState).toEqual({ ...current, name: 'A', plan: 'free' });
  });

  it('restores a personal value that differs and is readable; an erased target is skipped', () => {
    const plan = planRestore({ email: 'new@x' }, { email: ERASED }, undefined, []);
    expect(plan.changes).toEqual([]);
    expect(plan.skipped).toEqual([{ path: 'email', why: 'erased' }]);
    expect(planRestore({ email: 'new@x' }, { email: 'old@x' }, undefined, []).changes).toEqual([
      { path: 'email', before: 'new@x', after: 'old@x' },
    ]);
  });

  it('undoes from the states (not the change values), and never clobbers a later change', () => {
    const undone = event(
      'update',
      { name: 'A', plan: 'free', tags: ['x'], secret: REDACTED },
      { name: 'B', plan: 'pro', tags: ['x', 'y'], secret: REDACTED },
      [
        { path: 'name', before: 'A', after: 'B' },
        { path: 'plan', before: 'free', after: 'pro' },
        { path: 'tags', added: ['y'], removed: [] },
        { path: 'secret', before: REDACTED, after: REDACTED, redacted: true },
      ],
    );
    const fields = undoFields([undone]);
    expect(fields.find((f) => f.path === 'tags')).toMatchObject({ restore: ['x'], expected: ['x', 'y'] });
    const plan = planUndo({ name: 'C', plan: 'pro', tags: ['x', 'y'], secret: REDACTED }, fields, undefined);
    expect(plan.changes).toEqual([
      { path: 'plan', before: 'pro', after: 'free' },
      { path: 'tags', before: ['x', 'y'], after: ['x'] },
    ]);
    expect(plan.skipped).toEqual([
      { path: 'name', why: 'changed-since' },
      { path: 'secret', why: 'redacted' },
    ]);
  });

  it('undoes a run of events to the first before, expecting the last after', () => {
    const fields = undoFields([
      event('update', { plan: 'free' }, { plan: 'pro' }, [{ path: 'plan', before: 'free', after: 'pro' }]),
      event('update', { plan: 'pro' }, { plan: 'enterprise' }, [
        { path: 'plan', before: 'pro', after: 'enterprise' },
      ]),
    ]);
    expect(fields).toEqual([{ path: 'plan', restore: 'free', expected: 'enterprise', redacted: false }]);
  });

  it('applies changes at nested paths on a copy', () => {
    const state = { a: { b: 1 } };
    expect(applyChanges(state, [{ path: 'a.c', before: undefined, after: 2 }])).toEqual({
      a: { b: 1, c: 2 },
    });
    expect(state).toEqual({ a: { b: 1 } });
  });
});
