import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createRemoteJWKSet, JWTHeaderParameters, jwtVerify, JWTVerifyGetKey } from 'jose';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/environment';
import { AuthUser } from './auth.types';
import { ROLES_KEY } from './roles.decorator';

/**
 * Bearer JWT (HS256 with AUTH_JWT_SECRET; RS256/ES256/EdDSA from AUTH_JWKS_URL when set). Sets `request.user` to `{ sub, org, roles }`; with `@Roles()`
 * the token must carry one of them (403 otherwise). Missing or invalid token: 401.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    const secret = new TextEncoder().encode(config.jwtSecret);
    if (config.jwksUrl) {
      // Asymmetric tokens from an identity provider (keys fetched and cached by jose), HS256 still accepted.
      const jwks = createRemoteJWKSet(new URL(config.jwksUrl));
      this.key = (header: JWTHeaderParameters, token) =>
        header.alg === 'HS256' ? secret : jwks(header, token);
      this.algorithms = ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA'];
    } else {
      this.key = secret;
      this.algorithms = ['HS256'];
    }
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; user?: AuthUser }>();
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme !== 'Bearer' || !token) throw new UnauthorizedException('Missing Bearer token');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key as JWTVerifyGetKey, { algorithms: this.algorithms }));
    } catch {
      throw new UnauthorizedException('Invalid or expired token');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw new UnauthorizedException('Token has no subject');
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === 'string')
      : [];
    request.user = { sub: payload.sub, org: typeof payload.org === 'string' ? payload.org : null, roles };

    const required = this.reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (required && !required.some((role) => roles.includes(role))) {
      throw new ForbiddenException(`Requires one of the roles: ${required.join(', ')}`);
    }
    return true;
  }
}
