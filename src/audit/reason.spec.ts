import { BadRequestException } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { clipReason, requestReason, withReserved } from './reason';

const request = (headers: Record<string, string>, body?: unknown) =>
  ({ headers, body }) as unknown as IncomingMessage & { body?: unknown };

const messageOf = (work: () => unknown): string => {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return ((error as BadRequestException).getResponse() as { message: string[] }).message.join('; ');
  }
  throw new Error('expected a 400');
};

describe('requestReason', () => {
  it('reads X-Audit-Reason, trimmed; blank is none', () => {
    expect(requestReason(request({ 'x-audit-reason': '  ticket 42 ' }), undefined)).toBe('ticket 42');
    expect(requestReason(request({ 'x-audit-reason': '   ' }), undefined)).toBeNull();
    expect(requestReason(request({}), undefined)).toBeNull();
  });

  it('refuses a reason over 500 characters, naming the header and never echoing the value', () => {
    const message = messageOf(() => requestReason(request({ 'x-audit-reason': 'x'.repeat(501) }), undefined));
    expect(message).toBe('X-Audit-Reason must be at most 500 characters');
    expect(requestReason(request({ 'x-audit-reason': 'y'.repeat(500) }), undefined)).toHaveLength(500);
  });

  it('reads a body field by dotted path before the header, and leaves the body alone', () => {
    const body = { meta: { why: ' GDPR request ' }, plan: 'pro' };
    const options = { bodyField: 'meta.why' };
    expect(requestReason(request({ 'x-audit-reason': 'header' }, body), options)).toBe('GDPR request');
    expect(body.meta.why).toBe(' GDPR request ');
    expect(requestReason(request({ 'x-audit-reason': 'header' }, { plan: 'pro' }), options)).toBe('header');
    expect(messageOf(() => requestReason(request({}, { meta: { why: 7 } }), options))).toBe(
      'meta.why must be a string',
    );
    // Inherited properties are not body fields.
    expect(requestReason(request({}, {}), { bodyField: 'constructor' })).toBeNull();
  });

  it('a required reason: missing is a 400 naming where it may come from', () => {
    expect(messageOf(() => requestReason(request({}), { required: true }))).toBe(
      'a reason is required: the X-Audit-Reason header',
    );
    expect(
      messageOf(() =>
        requestReason(request({}, {}), { required: true, bodyField: 'reason', header: 'X-Why' }),
      ),
    ).toBe('a reason is required: reason or the X-Why header');
    expect(requestReason(request({ 'x-why': 'because' }), { required: true, header: 'X-Why' })).toBe(
      'because',
    );
  });
});

describe('reserved metadata keys', () => {
  it('clipReason trims and cuts at 500', () => {
    expect(clipReason(' a ')).toBe('a');
    expect(clipReason('')).toBeNull();
    expect(clipReason(undefined)).toBeNull();
    expect(clipReason('z'.repeat(600))).toHaveLength(500);
  });

  it("sets the library's values and removes a caller's own", () => {
    expect(withReserved(undefined, { reason: null })).toBeUndefined();
    expect(withReserved({ a: 1 }, {})).toEqual({ a: 1 });
    expect(withReserved({ a: 1 }, { reason: 'r', transactionId: '77' })).toEqual({
      a: 1,
      reason: 'r',
      transactionId: '77',
    });
    expect(withReserved({ a: 1, reason: 'mine', affectedCount: 3 }, {})).toEqual({ a: 1 });
    expect(withReserved({ reason: 'mine' }, {})).toBeNull();
  });
});
