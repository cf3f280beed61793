import { BadRequestException, UnauthorizedException } from '@nestjs/common';
import { AuthUser } from './auth.types';

const MAX_CLAIM_LENGTH = 256;
// C0/C1 controls (NUL among them) and lone surrogates: Postgres refuses some, logs and tables garble all.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const UNSAFE = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function claim(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new UnauthorizedException(`Identity has no ${name}`);
  if (value.length > MAX_CLAIM_LENGTH || UNSAFE.test(value)) {
    throw new BadRequestException([`identity claim ${name} must be at most ${MAX_CLAIM_LENGTH} printable characters`]);
  }
  return value;
}

/**
 * Checks what an identity resolver returned (`{ sub, org, roles }`) before anything uses it: a missing
 * subject is a 401; a claim with control characters, lone surrogates or absurd length is a 400 naming it,
 * before any handler runs (such a value would fail or garble every row it reached).
 */
export function toAuthUser(value: unknown): AuthUser {
  if (value === null || typeof value !== 'object') throw new UnauthorizedException('Not authenticated');
  const raw = value as { sub?: unknown; org?: unknown; roles?: unknown };
  const sub = claim('sub', raw.sub);
  const org = raw.org === undefined || raw.org === null ? null : claim('org', raw.org);
  const roles = Array.isArray(raw.roles)
    ? raw.roles.filter((role): role is string => typeof role === 'string' && !UNSAFE.test(role))
    : [];
  return { sub, org, roles };
}
