import type { IncomingMessage } from 'node:http';
import { acceptRequestId, actorFromUser, clientIp, compileTrust } from './request-context';

/** Just what proxy-addr reads from a request: the socket peer and the X-Forwarded-For header. */
const request = (remoteAddress: string | undefined, forwardedFor?: string) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

describe('actorFromUser', () => {
  it.each([null, undefined, 'user-1', 42])('makes %p an anonymous actor', (user) => {
    expect(actorFromUser(user)).toEqual({ id: null, type: 'anonymous', organizationId: null });
  });

  it('reads JWT claims (sub, org)', () => {
    expect(actorFromUser({ sub: 'user-1', org: 'org-1', roles: ['admin'] })).toEqual({
      id: 'user-1',
      type: 'user',
      organizationId: 'org-1',
    });
  });

  it('reads a user object (id, organizationId), turning numeric ids into strings', () => {
    expect(actorFromUser({ id: 42, organizationId: 7 })).toEqual({
      id: '42',
      type: 'user',
      organizationId: '7',
    });
  });

  it('keeps a declared actor type', () => {
    expect(actorFromUser({ sub: 'billing-worker', actorType: 'service' })).toEqual({
      id: 'billing-worker',
      type: 'service',
      organizationId: null,
    });
  });

  it('ignores an unknown actor type', () => {
    expect(actorFromUser({ sub: 'user-1', actorType: 'superuser' }).type).toBe('user');
  });

  it('makes an object without any id anonymous', () => {
    expect(actorFromUser({ roles: ['guest'] })).toEqual({
      id: null,
      type: 'anonymous',
      organizationId: null,
    });
  });
});

describe('acceptRequestId', () => {
  it.each([
    ['a simple id', 'req-123'],
    ['dots, underscores and colons', 'a1b2.c3_d4:e5'],
    ['a UUID', '01960000-0000-7000-8000-000000000001'],
    ['128 characters', 'x'.repeat(128)],
  ])('accepts %s', (_, id) => expect(acceptRequestId(id)).toBe(id));

  it.each([
    ['a missing header', undefined],
    ['an empty value', ''],
    ['129 characters', 'x'.repeat(129)],
    ['spaces', 'has space'],
    ['a newline', 'line\nbreak'],
    ['a trailing newline', 'id\n'],
    ['markup', '<script>'],
    ['non-ASCII letters', 'é'],
  ])('rejects %s', (_, id) => expect(acceptRequestId(id)).toBeNull());

  it('takes the first value of a repeated header', () => {
    expect(acceptRequestId(['first-id', 'second-id'])).toBe('first-id');
    expect(acceptRequestId(['bad id', 'second-id'])).toBeNull();
    expect(acceptRequestId([])).toBeNull();
  });
});

describe('clientIp', () => {
  const noProxies = compileTrust([]);
  const loopbackProxy = compileTrust(['loopback']);

  it('uses the socket peer and ignores X-Forwarded-For without trusted proxies', () => {
    expect(clientIp(request('127.0.0.1', '203.0.113.7'), noProxies)).toBe('127.0.0.1');
  });

  it('uses the X-Forwarded-For client behind a trusted proxy', () => {
    expect(clientIp(request('127.0.0.1', '203.0.113.7'), loopbackProxy)).toBe('203.0.113.7');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientIp(request('198.51.100.9', '203.0.113.7'), loopbackProxy)).toBe('198.51.100.9');
  });

  it('takes the first untrusted hop, not an address the client wrote itself', () => {
    // The client sent "X-Forwarded-For: 10.9.9.9"; the trusted proxy appended the real peer.
    expect(clientIp(request('127.0.0.1', '10.9.9.9, 203.0.113.7'), loopbackProxy)).toBe('203.0.113.7');
  });

  it('unwraps IPv4-mapped IPv6 addresses', () => {
    expect(clientIp(request('::ffff:1.2.3.4'), noProxies)).toBe('1.2.3.4');
    expect(clientIp(request('::ffff:127.0.0.1', '203.0.113.7'), loopbackProxy)).toBe('203.0.113.7');
  });

  it('keeps plain IPv6 addresses', () => {
    expect(clientIp(request('2001:db8::1'), noProxies)).toBe('2001:db8::1');
  });

  it('returns null when the socket has no peer address (closed connection)', () => {
    expect(clientIp(request(undefined), noProxies)).toBeNull();
  });
});
