import type { QueuedEvent } from '../queued-event';
import { deserializeQueued, serializeQueued } from './queued-event.codec';

const event: QueuedEvent = {
  id: '01a20d1f-d94f-735f-869f-39e45a1e1fc7',
  occurredAt: new Date('2026-11-24T10:00:00.123Z'),
  organizationId: 'org-1',
  resourceType: null,
  action: 'update',
  eventType: 'account.update',
  severity: 'info',
  enqueuedAt: 1795000000000,
  line: 'a\\tb\t\\N\t{"quote":"\\"x\\""}\n',
};

describe('queued event codec', () => {
  it('carries the wrapped subject keys of personal data when there are any', () => {
    const withKeys: QueuedEvent = {
      ...event,
      keys: [
        {
          id: '01a20d1f-d94f-735f-869f-39e45a1e1fc8',
          organizationId: 'org-1',
          subjectId: 'account:42',
          kekId: '0123456789abcdef',
          wrappedKey: Buffer.alloc(60, 3).toString('base64'),
          createdAt: 1795000000001,
        },
      ],
    };
    expect(deserializeQueued(serializeQueued(withKeys))).toEqual(withKeys);
    expect(JSON.parse(serializeQueued(event))).toHaveLength(9); // no keys: the format is unchanged
    const badKey = JSON.parse(serializeQueued(withKeys)) as unknown[];
    badKey[9] = [['id-only']];
    expect(() => deserializeQueued(JSON.stringify(badKey))).toThrow('not a serialized audit event');
  });

  it('round-trips every field, the COPY line byte for byte', () => {
    const text = serializeQueued(event);
    expect(text).not.toContain('\n'); // one line per event in a spool segment
    expect(deserializeQueued(text)).toEqual(event);
  });

  it.each([
    ['not JSON', '{'],
    ['an object', '{"id":"x"}'],
    ['a short array', '["id", 1]'],
    [
      'a line without its newline',
      JSON.stringify(['id', 1, null, null, 'update', 'x.update', 'info', 1, 'no newline']),
    ],
    ['a wrong type', JSON.stringify([1, 1, null, null, 'update', 'x.update', 'info', 1, 'line\n'])],
  ])('refuses %s (a corrupt entry is set aside, never written)', (_, text) => {
    expect(() => deserializeQueued(text)).toThrow();
  });
});
