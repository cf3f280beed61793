import fc from 'fast-check';
import { FormattedEvent, StreamEvent } from '../streaming.types';
import { decodeSubjectToken, isValidSubject, natsKind, natsSubject, subjectToken } from './nats.sink';

function formatted(orgKey: string, resourceType: string | null): FormattedEvent {
  const source = { orgKey, sealSeq: '1', event: { id: 'e1', resourceType } } as unknown as StreamEvent;
  return { source, record: null, text: '{}' };
}

describe('NATS subjects', () => {
  it('keeps plain ids and resource types as they are', () => {
    expect(natsSubject('audit', formatted('7f1c0de0-0000-4000-8000-000000000001', 'order_item'))).toBe(
      'audit.7f1c0de0-0000-4000-8000-000000000001.order_item',
    );
  });

  it('escapes what a subject token cannot hold, and marks the empty value', () => {
    expect(subjectToken('billing.Invoice')).toBe('billing%2EInvoice');
    expect(subjectToken('a*b>c d\t%')).toBe('a%2Ab%3Ec%20d%09%25');
    expect(subjectToken('é')).toBe('%C3%A9');
    expect(subjectToken('')).toBe('%');
    expect(subjectToken(null)).toBe('%');
    expect(natsSubject('audit.prod', formatted('', null))).toBe('audit.prod.%.%');
  });

  it('round-trips any string (up to 10 code points: under the hashing length), and every subject it makes is valid with exactly three parts after the prefix', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 10 }), fc.string({ maxLength: 40 }), (org, type) => {
        expect(decodeSubjectToken(subjectToken(org))).toBe(org);
        const subject = natsSubject('audit', formatted(org, type));
        expect(isValidSubject(subject)).toBe(true);
        expect(subject.split('.')).toHaveLength(3);
      }),
    );
  });

  it('hashes an over-long value into a bounded, distinct token', () => {
    const long = 'x.'.repeat(100);
    const token = subjectToken(long);
    expect(token).toMatch(/^%%[0-9a-f]{32}$/);
    expect(subjectToken(`${long}y`)).not.toBe(token);
    expect(decodeSubjectToken(token)).toBeNull();
  });

  it('validates the prefix as a subject', () => {
    expect(isValidSubject('audit.prod')).toBe(true);
    for (const bad of ['audit.*', 'audit.>', 'audit..x', 'a b', '.audit'])
      expect(natsKind.validate({ servers: ['nats://n:4222'], subjectPrefix: bad }, {})).toEqual([
        expect.stringMatching(/^settings\.subjectPrefix/),
      ]);
    expect(
      natsKind.validate({ servers: 'nats://n:4222', subjectPrefix: 'siem.audit' }, { token: 't' }),
    ).toEqual([]);
  });
});
