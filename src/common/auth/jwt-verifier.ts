import { UnauthorizedException } from '@nestjs/common';
import { createRemoteJWKSet, JWTHeaderParameters, jwtVerify, JWTVerifyGetKey } from 'jose';
import { AuthUser } from './auth.types';
import { toAuthUser } from './identity';

export interface JwtVerifierOptions {
  /** HS256 secret (at least 32 characters). */
  secret: string;
  /** JWKS endpoint for asymmetric tokens (RS256/PS256/ES256/EdDSA); HS256 tokens keep working. */
  jwksUrl?: string;
  /**
   * Tokens must carry `exp`. A token without one is refused unless `maxTokenAgeSeconds` is set, in which
   * case its `iat` must be younger than that. Default: `exp` required, no age cap beyond it.
   */
  maxTokenAgeSeconds?: number;
}

/**
 * The built-in Bearer JWT check (jose): `Authorization: Bearer <token>` to `{ sub, org, roles }`.
 * One way to identify admin callers; apps with their own auth pass a resolver instead.
 */
export class JwtVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(private readonly options: JwtVerifierOptions) {
    if (!options.secret || options.secret.length < 32) {
      throw new Error('JwtVerifier: secret must be at least 32 characters');
    }
    const secret = new TextEncoder().encode(options.secret);
    if (options.jwksUrl) {
      // Asymmetric tokens from an identity provider (keys fetched and cached by jose), HS256 still accepted.
      const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
      this.key = (header: JWTHeaderParameters, token) => (header.alg === 'HS256' ? secret : jwks(header, token));
      this.algorithms = ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA'];
    } else {
      this.key = secret;
      this.algorithms = ['HS256'];
    }
  }

  /** The identity of an `Authorization` header value; 401 when missing, invalid, expired or without `exp`. */
  async verify(authorization: string | undefined): Promise<AuthUser> {
    const [scheme, token] = (authorization ?? '').split(' ');
    if (scheme !== 'Bearer' || !token) throw new UnauthorizedException('Missing Bearer token');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key as JWTVerifyGetKey, {
        algorithms: this.algorithms,
        ...(this.options.maxTokenAgeSeconds
          ? { maxTokenAge: this.options.maxTokenAgeSeconds }
          : { requiredClaims: ['exp'] }),
      }));
    } catch {
      throw new UnauthorizedException('Invalid or expired token');
    }
    return toAuthUser(payload);
  }
}
