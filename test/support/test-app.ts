import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { SignJWT } from 'jose';
import { AuditService } from '../../src/audit';
import { createApp } from '../../demo/bootstrap';
import { loadConfig } from '../../src/config/environment';
import { TEST_JWT_SECRET } from './env';

/** The real service (same bootstrap as main.ts) on a test database, not listening: supertest drives it. */
export async function startTestApp(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<INestApplication> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'error',
    AUDIT_FLUSH_INTERVAL_MS: '50',
    // Each app its own spool: one test's outage backlog must never be replayed into another's database.
    AUDIT_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'audit-spool-')),
    ...env,
  });
  const app = await createApp(config);
  await app.init();
  return app;
}

export async function token(
  claims: { sub: string; org?: string; roles?: string[] },
  secret = TEST_JWT_SECRET,
) {
  return new SignJWT({ org: claims.org, roles: claims.roles ?? [] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(secret));
}

/** Waits until every captured event is committed. */
export async function flushAudit(app: INestApplication): Promise<void> {
  const flushed = await app.get(AuditService).flush(10_000);
  if (!flushed) throw new Error('audit buffer did not drain');
}
