import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { AuditIdentity, JwtVerifier, ServiceConfig } from 'nest-audit-trail';
import { DEMO_CONFIG } from '../demo-config';

/**
 * The demo's own auth: a Bearer JWT (HS256 with AUTH_JWT_SECRET, asymmetric from AUTH_JWKS_URL), checked
 * by the package's JwtVerifier; sets `request.user` to `{ sub, org, roles }`. Missing or invalid: 401.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  private readonly verifier: JwtVerifier;

  constructor(@Inject(DEMO_CONFIG) config: ServiceConfig) {
    this.verifier = new JwtVerifier({ secret: config.jwtSecret, jwksUrl: config.jwksUrl });
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; user?: AuditIdentity }>();
    request.user = await this.verifier.verify(request.headers.authorization);
    return true;
  }
}
