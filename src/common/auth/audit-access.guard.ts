import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthUser } from './auth.types';
import { toAuthUser } from './identity';
import { JwtVerifier } from './jwt-verifier';
import { ROLES_KEY } from './roles.decorator';

/** Injection token of the admin API's resolved access settings. */
export const AUDIT_ACCESS = Symbol('AUDIT_ACCESS');

/** How the admin API learns who calls: from the request (the app's own auth), or from a Bearer JWT. */
export interface AuditAccess {
  resolveIdentity(request: unknown): Promise<unknown>;
}

/** Default resolver: what the app's own guard or middleware (Passport, session...) put on `request.user`. */
export const fromRequestUser = (request: unknown): unknown => (request as { user?: unknown }).user;

export function auditAccess(options: {
  identity?: (request: unknown) => unknown;
  jwt?: JwtVerifier;
}): AuditAccess {
  if (options.jwt) {
    const verifier = options.jwt;
    return {
      resolveIdentity: (request) =>
        verifier.verify((request as { headers: Record<string, string | undefined> }).headers.authorization),
    };
  }
  const resolve = options.identity ?? fromRequestUser;
  return { resolveIdentity: async (request) => resolve(request) };
}

/**
 * Every admin route: the caller's identity (`{ sub, org, roles }`, checked by toAuthUser) is put on
 * `request.user`; with `@Roles()` it must hold one of them (403 otherwise). No identity: 401.
 */
@Injectable()
export class AuditAccessGuard implements CanActivate {
  constructor(
    @Inject(AUDIT_ACCESS) private readonly access: AuditAccess,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ user?: unknown }>();
    const user: AuthUser = toAuthUser(await this.access.resolveIdentity(request));
    request.user = user;
    const required = this.reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (required && !required.some((role) => user.roles.includes(role))) {
      throw new ForbiddenException(`Requires one of the roles: ${required.join(', ')}`);
    }
    return true;
  }
}
