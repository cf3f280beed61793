import { eventId } from './event-id';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('eventId', () => {
  it('is a UUIDv7 carrying the millisecond of the event', () => {
    const at = new Date('2026-11-24T12:34:56.789Z');
    const id = eventId(at);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at.getTime());
  });

  it('orders the ids of one millisecond as they were made', () => {
    const at = new Date('2026-11-24T12:00:00.000Z');
    const ids = Array.from({ length: 500 }, () => eventId(at));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('orders the ids of each millisecond, back-dated ones included', () => {
    const old = new Date('2020-01-01T00:00:00.000Z');
    const ids = Array.from({ length: 50 }, () => eventId(old));
    expect([...ids].sort()).toEqual(ids);
    expect(parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16)).toBe(old.getTime());
  });
});
