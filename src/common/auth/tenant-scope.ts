import { ForbiddenException } from '@nestjs/common';
import { AuthUser, ROLES } from './auth.types';

/**
 * The organization a caller may read: `audit:read:all` every one (or the one it asks for, undefined =
 * all); anyone else only its own, and asking for another is a 403.
 */
export function organizationScope(user: AuthUser, requested: string | undefined): string | undefined {
  if (user.roles.includes(ROLES.readAll)) return requested;
  if (!user.org) throw new ForbiddenException('Token has no organization (org claim)');
  if (requested !== undefined && requested !== user.org) {
    throw new ForbiddenException('organizationId filter requires the audit:read:all role');
  }
  return user.org;
}
