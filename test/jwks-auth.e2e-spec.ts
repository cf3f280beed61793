import { INestApplication } from '@nestjs/common';
import { CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp, token } from './support/test-app';

/** Tokens of an identity provider: RS256, verified against its JWKS endpoint (a local server here). */
describe('JWKS authentication', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let jwks: Server;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) =>
      res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    db = await createTestDatabase();
    const { port } = jwks.address() as AddressInfo;
    app = await startTestApp(db.url, { AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    jwks?.close();
  });

  const rs256 = (key: CryptoKey) =>
    new SignJWT({ org: 'org-a', roles: ['audit:read'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .setSubject('idp-user')
      .setExpirationTime('5m')
      .sign(key);

  it('accepts a token signed by a key of the JWKS, and still HS256 tokens', async () => {
    await request(app.getHttpServer())
      .get('/audit/events')
      .set('Authorization', `Bearer ${await rs256(privateKey)}`)
      .expect(200);
    const hs = await token({ sub: 'local', org: 'org-a', roles: ['audit:read'] });
    await request(app.getHttpServer()).get('/audit/events').set('Authorization', `Bearer ${hs}`).expect(200);
  });

  it('rejects a token signed by a key outside the JWKS', async () => {
    await request(app.getHttpServer())
      .get('/audit/events')
      .set('Authorization', `Bearer ${await rs256(otherKey)}`)
      .expect(401);
  });
});
