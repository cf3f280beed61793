import { SignJWT } from 'jose';
import { loadServiceConfig as loadConfig } from 'nest-audit-trail';

/**
 * Prints a Bearer token for trying the API locally:
 *   npm run token -- <sub> <org> [role,role...]
 * Signed with AUTH_JWT_SECRET (or the development secret), valid one hour.
 */
async function main(): Promise<void> {
  const [sub, org, roles = ''] = process.argv.slice(2);
  if (!sub || !org) {
    console.error(
      'usage: npm run token -- <sub> <org> [role,role...]   e.g. npm run token -- alice org-a audit:read',
    );
    process.exit(2);
  }
  const { jwtSecret } = loadConfig();
  const token = await new SignJWT({ org, roles: roles.split(',').filter(Boolean) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(jwtSecret));
  console.log(token);
}

void main();
