import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { flushAudit, startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { deliveryProblems } from './support/receivers/receiver';
import { HttpTestReceiver, startWebhookReceiver } from './support/receivers/http-receiver';

/**
 * A destination from configuration (AUDIT_STREAMING_DESTINATIONS, its secret from another variable): created
 * once, kept with its cursor across a restart (nothing sent twice), its secret never stored, not deletable
 * through the API; a bad configured destination stops start-up naming it.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const KEYS = [
  'AUDIT_STREAMING',
  'AUDIT_STREAMING_POLL_MS',
  'AUDIT_STREAMING_DESTINATIONS',
  'SIEM_WEBHOOK_SECRET',
];

describe('streaming destinations from configuration', () => {
  let db: TestDatabase;
  let receiver: HttpTestReceiver;
  const saved = Object.fromEntries(KEYS.map((key) => [key, process.env[key]]));

  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = await startWebhookReceiver();
    const { settings, secret } = receiver.destination('json');
    Object.assign(process.env, {
      AUDIT_STREAMING: 'on',
      AUDIT_STREAMING_POLL_MS: '100',
      SIEM_WEBHOOK_SECRET: secret.secret,
      AUDIT_STREAMING_DESTINATIONS: JSON.stringify([
        {
          name: 'siem',
          kind: 'webhook',
          settings,
          secret: { secret: 'env:SIEM_WEBHOOK_SECRET' },
          batchSize: 20,
        },
      ]),
    });
  });

  afterAll(async () => {
    await receiver?.destroy();
    await db?.drop();
    for (const key of KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  async function write(app: INestApplication, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++)
      ids.push(
        app.get(AuditService).record({
          action: 'update',
          actor: { id: 'u', type: 'user', organizationId: 'org-c' },
          resourceType: 'doc',
          resourceId: `d-${i}`,
        })!.id,
      );
    await flushAudit(app);
    return ids;
  }

  async function untilReceived(ids: string[]): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const got = new Set((await receiver.received()).map((e) => e.id));
      if (ids.every((id) => got.has(id))) return;
      await sleep(100);
    }
    throw new Error('not delivered in time');
  }

  it('delivers, keeps its cursor across a restart, and cannot be deleted through the API', async () => {
    let app = await startTestApp(db.url);
    const first = await write(app, 30);
    await untilReceived(first);
    const platform = await token({ sub: 'ops', roles: ['audit:platform'] });
    const [listed] = (
      await request(app.getHttpServer())
        .get('/audit/destinations')
        .set('Authorization', `Bearer ${platform}`)
        .expect(200)
    ).body;
    expect(listed).toMatchObject({ name: 'siem', source: 'config', secretFields: ['secret'] });
    await request(app.getHttpServer())
      .delete(`/audit/destinations/${listed.id}`)
      .set('Authorization', `Bearer ${platform}`)
      .expect(409);
    await app.close();

    app = await startTestApp(db.url);
    const second = await write(app, 10);
    await untilReceived(second);
    await sleep(300);
    const received = await receiver.received();
    // Once each: the restart resumed from the stored cursor.
    expect(deliveryProblems([...first, ...second], received)).toEqual([]);
    expect(received).toHaveLength(40);
    const { rows } = await db.sql.query(`SELECT id, secret FROM audit_stream_destinations`);
    expect(rows).toEqual([{ id: listed.id, secret: null }]);
    await app.close();
  });

  it('refuses to start with a bad configured destination, naming it', async () => {
    const good = process.env.AUDIT_STREAMING_DESTINATIONS;
    process.env.AUDIT_STREAMING_DESTINATIONS = JSON.stringify([
      { name: 'siem', kind: 'webhook', settings: { url: 'nope' } },
    ]);
    try {
      await expect(startTestApp(db.url)).rejects.toThrow(
        /streaming.destinations\[0\] \(siem\): settings.url must be an http or https URL/,
      );
    } finally {
      process.env.AUDIT_STREAMING_DESTINATIONS = good;
    }
  });
});
