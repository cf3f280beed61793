import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import { ActorType, AuditActor } from './audit.types';

const ACTOR_TYPES: readonly ActorType[] = ['user', 'service', 'system', 'anonymous'];
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The actor as set on `request.user` by the app's authentication (JWT claims or a user object). */
export function actorFromUser(user: unknown): AuditActor {
  if (!user || typeof user !== 'object') return { id: null, type: 'anonymous', organizationId: null };
  const u = user as Record<string, unknown>;
  const id = u.sub ?? u.id ?? u.userId ?? null;
  const organizationId = u.org ?? u.organizationId ?? u.tenantId ?? null;
  const declared = u.actorType ?? u.typ;
  const type = ACTOR_TYPES.includes(declared as ActorType)
    ? (declared as ActorType)
    : id === null
      ? 'anonymous'
      : 'user';
  return {
    id: id === null ? null : String(id),
    type,
    organizationId: organizationId === null ? null : String(organizationId),
  };
}

/** A trust function for proxy-addr: X-Forwarded-For is believed only from these proxies; null for none. */
export function compileTrust(
  trustedProxies: readonly string[],
): ((addr: string, i: number) => boolean) | null {
  return trustedProxies.length === 0 ? null : proxyaddr.compile([...trustedProxies]);
}

/** The client IP: the socket peer, or the first untrusted hop of X-Forwarded-For behind trusted proxies. */
export function clientIp(
  request: IncomingMessage,
  trust: ((addr: string, i: number) => boolean) | null,
): string | null {
  const peer = request.socket?.remoteAddress;
  if (!peer) return null;
  // Without trusted proxies the header is never believed: no need to parse it.
  const address = trust ? proxyaddr(request, trust) : peer;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The incoming X-Request-Id when it is sane, otherwise null (the caller generates one). */
export function acceptRequestId(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : null;
}
