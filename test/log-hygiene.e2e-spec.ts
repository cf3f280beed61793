import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

/**
 * Everything the process prints while `work` runs: Nest's logger writes to process.stdout/stderr, TypeORM's
 * console loggers and anything else go through console (which Jest replaces with its own).
 */
async function captureOutput(work: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const record = (...args: unknown[]) => {
    chunks.push(args.map((arg) => (typeof arg === 'string' ? arg : String(arg))).join(' '));
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      record(String(chunk));
      return true;
    }),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      record(String(chunk));
      return true;
    }),
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
      jest.spyOn(console, method).mockImplementation(record),
    ),
  ];
  try {
    await work();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return chunks.join('\n');
}

describe('No request data in the service log', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let alice: string;
  const http = () => request(app.getHttpServer());
  // Unique per run, so a match can only come from this test's request.
  const canary = randomBytes(6).toString('hex');
  const email = `leak-${canary}@example.com`;
  const password = `Pw-${canary}-long`;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Every level on: no value may reach a log line, debug included.
    app = await startTestApp(db.url, { LOG_LEVEL: 'verbose' });
    alice = await token({ sub: 'alice', org: 'org-a' });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('refuses a NUL in the body before any query (400 naming the field), with none of its values in the log', async () => {
    // Until the demo's DTOs refused it, this NUL reached Postgres (22021, a 500) and TypeORM logged the
    // query's parameters: the email and the password hash. The unique-violation case below keeps a real
    // failed query covered; SafeQueryLogger's spec covers 22021 itself.
    const output = await captureOutput(async () => {
      const res = await http()
        .post('/accounts')
        .set('Authorization', `Bearer ${alice}`)
        .set('X-Request-Id', `req-nul-${canary}`)
        .send({ name: `Eve\u0000${canary}`, email, plan: 'free', password })
        .expect(400);
      expect(JSON.stringify(res.body.message)).toContain('name');
      await flushAudit(app);
    });
    expect(output).not.toContain(email);
    expect(output).not.toContain(canary.slice(0, 8) + '@');
    expect(output).not.toContain(`Eve`);
    expect(output).not.toContain(password);
    expect(output).not.toContain('scrypt$'); // the password hash
    expect(output).not.toMatch(/PARAMETERS|INSERT INTO/);
  });

  it("keeps a unique violation's detail (which quotes the value) out of the log", async () => {
    await db.sql.query('CREATE UNIQUE INDEX test_accounts_email ON accounts (email)');
    try {
      const body = { name: 'Mallory', email, plan: 'free', password };
      await http().post('/accounts').set('Authorization', `Bearer ${alice}`).send(body).expect(201);
      const output = await captureOutput(async () => {
        await http()
          .post('/accounts')
          .set('Authorization', `Bearer ${alice}`)
          .set('X-Request-Id', `req-dup-${canary}`)
          .send(body)
          .expect(500);
        await flushAudit(app);
      });
      expect(output).toContain('23505');
      expect(output).toContain('test_accounts_email');
      expect(output).toContain(`req-dup-${canary}`);
      expect(output).not.toContain(email);
      expect(output).not.toContain('Mallory');
      expect(output).not.toContain(password);
      expect(output).not.toContain('scrypt$');
      expect(output).not.toContain('already exists'); // the start of the detail: `Key (email)=(...) already exists`
    } finally {
      await db.sql.query('DROP INDEX test_accounts_email');
    }
  });
});
