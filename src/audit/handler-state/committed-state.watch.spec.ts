import { CommittedStateSlot, CommittedStateWatch } from './committed-state.watch';

const watch = new CommittedStateWatch({} as never, () => ({}) as never);
const at = new Date('2026-12-07T10:00:00.000Z');
const slotWith = (
  ...writes: Array<[Record<string, unknown>, Record<string, unknown>]>
): CommittedStateSlot => ({
  id: 'a1',
  organizationId: 'org',
  writes: writes.map(([written, row]) => ({ written: new Map(Object.entries(written)), row })),
});

describe('CommittedStateWatch.afterOf', () => {
  const row = { id: 'a1', name: 'n3', email: 'e4', plan: 'p5', passwordHash: 'h', updatedAt: at };

  it("takes the committed value of each of the result's columns from the write the result reports", () => {
    const slot = slotWith([{ name: 'n3' }, { ...row, plan: 'p0' }], [{ plan: 'p5' }, row]);
    const result = { id: 'a1', name: 'n0', email: 'e0', plan: 'p5', updatedAt: new Date(at), extra: 1 };
    expect(watch.afterOf(slot, result)).toEqual({
      id: 'a1',
      name: 'n3',
      email: 'e4',
      plan: 'p5',
      updatedAt: at,
      extra: 1, // not a column: as returned
    });
  });

  it('prefers the latest matching write and compares dates by time', () => {
    const first = { ...row, email: 'e1' };
    const slot = slotWith([{ updatedAt: new Date(at) }, first], [{ updatedAt: new Date(at) }, row]);
    expect(watch.afterOf(slot, { id: 'a1', email: 'old', updatedAt: at })).toMatchObject({ email: 'e4' });
  });

  it('returns undefined when no write is reported by the result', () => {
    const slot = slotWith([{ plan: 'p5' }, row], [{ passwordHash: 'h2' }, row]);
    expect(watch.afterOf(slot, { id: 'a1', plan: 'p9' })).toBeUndefined();
    expect(watch.afterOf(slot, { ok: true })).toBeUndefined(); // reports none of the written columns
    expect(watch.afterOf(slot, ['a1'])).toBeUndefined();
    expect(watch.afterOf(slot, undefined)).toBeUndefined();
    expect(watch.afterOf(slotWith(), { id: 'a1', plan: 'p5' })).toBeUndefined();
  });
});
