import { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import { createHmac, randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import request from 'supertest';
import { TEST_JWT_SECRET } from './support/env';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp } from './support/test-app';

/**
 * Property-based fuzzing of the demo's audited mutations (POST and PATCH /accounts) with random and hostile
 * JSON bodies, content types and token claims (tokens signed with the test secret, so the claims, not the
 * signature, are what is fuzzed). Whatever the input: no 5xx, never a dropped connection, and every 2xx
 * mutation has exactly one audit event (an update that changed nothing: none, the documented no-op rule).
 * FUZZ_SEED=<n> replays a run; FUZZ_BATCHES scales it; FUZZ_SURVEY=1 lists every bad answer of the whole
 * run instead of stopping at the first failing batch.
 */

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** An HS256 JWT over any payload text: claims of any type, or none, or not JSON at all. */
function jwt(payload: string, header = '{"alg":"HS256","typ":"JWT"}', secret = TEST_JWT_SECRET): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const ORGS = 16;

// ---- Arbitraries ---------------------------------------------------------------------------------------

const hostileText = fc.string({
  unit: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...'abcXYZ019 @.-_'.split('')) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '\u0000',
        '\u0001',
        '\n',
        '\u007f',
        '\u2028',
        '\ufeff',
        '\ud800',
        '\udfff',
        '"',
        '\\',
        '<',
        '%',
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
    { weight: 1, arbitrary: fc.constantFrom('é', '名', '𝄞', '👩‍👩‍👧') },
  ),
  maxLength: 40,
});
const anyJson = fc.jsonValue({ maxDepth: 3 });
const oddValue = fc.oneof(
  hostileText,
  fc.integer({ min: 0, max: 12 }).map((n) => 'x'.repeat(n * 30)),
  fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(1e308, -0, 2 ** 53 + 1),
  ),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileText, { maxLength: 3 }),
  fc.dictionary(hostileText, hostileText, { maxKeys: 3 }),
);
/** `arbitrary` one time in `oneIn`, otherwise undefined. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
/** A field: mostly valid, sometimes hostile, sometimes missing. */
const field = (valid: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 2, arbitrary: oddValue },
    { weight: 3, arbitrary: fc.constant(undefined) },
  );
const email = fc.oneof(
  fc.emailAddress(),
  fc.constantFrom('a@b.co', 'Zoë@example.com', 'x@localhost', '"q"@e.com'),
);
const password = fc.string({ minLength: 8, maxLength: 40 });
const EXTRA_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'id',
  'organizationId',
  'createdAt',
  'password ',
  '',
];

/** Text of a JSON body: near-valid accounts, any JSON, or not JSON at all. */
const body = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        name: field(fc.string({ minLength: 1, maxLength: 30 })),
        email: field(email),
        plan: field(fc.constantFrom('free', 'pro', 'enterprise')),
        password: field(password),
        extra: rarely(fc.tuple(fc.oneof(fc.constantFrom(...EXTRA_KEYS), hostileText), anyJson), 6),
      })
      .map(({ extra, ...fields }) => {
        const object = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
        // JSON.stringify drops a `__proto__` own key set by assignment: write it into the text instead.
        const text = JSON.stringify(object);
        if (!extra) return text;
        const pair = `${JSON.stringify(extra[0])}:${JSON.stringify(extra[1]) ?? 'null'}`;
        return text === '{}' ? `{${pair}}` : `${text.slice(0, -1)},${pair}}`;
      }),
  },
  { weight: 2, arbitrary: anyJson.map((value) => JSON.stringify(value)) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      hostileText,
      fc.constantFrom(
        '',
        'null',
        '[]',
        '"x"',
        '1e999',
        '{',
        '{"name":',
        '{"name":"a","name":"b"}',
        '\ufeff{}',
        '{"a":1}garbage',
      ),
      fc.constantFrom('{"name":"a\\u0000b","email":"a@b.co","plan":"free","password":"12345678"}'),
      fc.integer({ min: 60, max: 70 }).map((depth) => `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`),
      fc.integer({ min: 1000, max: 6000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
    ),
  },
);
const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/merge-patch+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
    ),
  },
);

/** Claims: mostly valid, each of them often hostile; or a token that is not one. */
const claim = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 8, arbitrary: valid.map((v): unknown => v) },
    { weight: 1, arbitrary: oddValue },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
/** An Authorization header, for a caller of organization `org-<org>` when its claims are valid. */
const authorizationFor = (org: number) =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .record({
          sub: claim(fc.constantFrom('user-1', 'user-2', 'svc')),
          org: claim(fc.constant(`org-${org}`)),
          roles: claim(fc.subarray(['audit:read', 'audit:admin', 'audit:read:all', 'x'])),
          exp: fc.oneof(
            { weight: 12, arbitrary: fc.constant('future') },
            {
              weight: 1,
              arbitrary: fc.constantFrom('missing', 'past', 'string', 'huge', 'negative', 'float'),
            },
          ),
          nbf: rarely(fc.constantFrom('future', 'past', 'string'), 8),
          alg: fc.oneof(
            { weight: 20, arbitrary: fc.constant('HS256') },
            { weight: 1, arbitrary: fc.constantFrom('none', 'HS512', 'RS256', '') },
          ),
        })
        .map(({ sub, org, roles, exp, nbf, alg }) => {
          const times: Record<string, unknown> = {
            future: now() + 600,
            past: now() - 600,
            string: 'tomorrow',
            huge: 1e20,
            negative: -1,
            float: now() + 600.5,
          };
          const payload: Record<string, unknown> = { sub, org, roles, iat: now() };
          if (exp !== 'missing') payload.exp = times[exp];
          if (nbf) payload.nbf = times[nbf];
          const token = jwt(JSON.stringify(payload), JSON.stringify({ alg, typ: 'JWT' }));
          return `Bearer ${alg === 'none' ? `${token.split('.').slice(0, 2).join('.')}.` : token}`;
        }),
    },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwdw==', 'bearer x.y.z', 'Bearer a.b.c.d'),
        fc.constant(`Bearer ${jwt('not json')}`),
        fc.constant(`Bearer ${jwt('[1,2]')}`),
        fc.constant(
          `Bearer ${jwt(`{"sub":"u","org":"org-1","exp":${now() + 600}}`, '{"alg":"HS256","crit":["x"],"x":1}')}`,
        ),
        // Header values must be printable ASCII: the text as base64url, a token-shaped string that is not one.
        hostileText.map((t) => `Bearer ${b64url(t)}`),
      ),
    },
  );

interface Mutation {
  method: 'post' | 'patch';
  /** Index into the accounts made at set-up, or a path segment of its own. */
  target: number | string;
  body: string;
  contentType: string;
  authorization: string;
}

// PATCHes mostly aim at the caller's own organization's account (another's is a 404).
const mutation: fc.Arbitrary<Mutation> = fc.nat({ max: ORGS - 1 }).chain((org) =>
  fc.record({
    method: fc.constantFrom('post', 'patch'),
    target: fc.oneof(
      { weight: 8, arbitrary: fc.constant(org) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.uuid(),
          fc.constantFrom('not-a-uuid', '%00', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
        ),
      },
    ),
    body,
    contentType,
    authorization: authorizationFor(org),
  }),
);

// ---- The suite -----------------------------------------------------------------------------------------

const BATCH = 12;
const BATCHES = Number(process.env.FUZZ_BATCHES ?? 300);

describe('mutation fuzz (demo accounts)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let baseUrl: string;
  const agent = new Agent({ keepAlive: true, maxSockets: BATCH });
  /** Per organization: an account made at set-up, the target of PATCHes. */
  const accounts: string[] = [];
  /** The last answer for each of those accounts: a PATCH that leaves it as it was is a no-op. */
  const views = new Map<string, string>();
  /**
   * Request id -> the mutation and the events it must have, for every 2xx answer: one, but none for an
   * update that changed nothing (no-ops are not recorded unless `@Audited({ recordNoOps: true })`).
   */
  const succeeded = new Map<string, { shown: string; events: number }>();
  const statuses = new Map<number, number>();
  let sent = 0;

  const http = () => request(baseUrl);
  /** An account as answered, keys sorted (a create and an update list them in different orders). */
  const viewOf = (account: Record<string, unknown>) => JSON.stringify(account, Object.keys(account).sort());
  const validToken = (org: number) =>
    `Bearer ${jwt(JSON.stringify({ sub: 'setup', org: `org-${org}`, roles: [], exp: now() + 3600 }))}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    for (let org = 0; org < ORGS; org++) {
      const res = await http()
        .post('/accounts')
        .set('Authorization', validToken(org))
        .send({
          name: `Account ${org}`,
          email: `a${org}@example.com`,
          plan: 'free',
          password: 'correct-horse',
        })
        .expect(201);
      accounts.push(res.body.id);
      views.set(res.body.id, viewOf(res.body));
    }
  });

  afterAll(async () => {
    agent.destroy();
    await app?.close();
    await db?.drop();
  });

  const describeMutation = (m: Mutation, path: string) =>
    `${m.method.toUpperCase()} ${path} [${m.contentType}] auth=${m.authorization.slice(0, 60)}… body=${JSON.stringify(m.body.slice(0, 300))}${m.body.length > 300 ? `…(${m.body.length} chars)` : ''}`;

  async function send(m: Mutation): Promise<string | null> {
    const path =
      m.method === 'post'
        ? '/accounts'
        : `/accounts/${typeof m.target === 'number' ? accounts[m.target] : m.target}`;
    const requestId = randomUUID();
    sent++;
    let res: request.Response;
    try {
      const client = http();
      const req = (m.method === 'post' ? client.post(path) : client.patch(path))
        .agent(agent)
        .timeout(30_000)
        .set('X-Request-Id', requestId)
        .set('Authorization', m.authorization);
      if (m.contentType) req.set('Content-Type', m.contentType);
      res = await req.send(m.body);
    } catch (error) {
      const err = error as Error & { code?: string; response?: unknown };
      if (err.response) return null;
      return `${describeMutation(m, path)}\n  -> no response (${err.code ?? err.message})`;
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500)
      return `${describeMutation(m, path)}\n  -> ${res.status} ${JSON.stringify(res.body)}`;
    if (res.status < 300) {
      let events = 1;
      if (m.method === 'patch' && typeof m.target === 'number') {
        const after = viewOf(res.body);
        if (views.get(accounts[m.target]) === after) events = 0;
        views.set(accounts[m.target], after);
      }
      succeeded.set(res.headers['x-request-id'] ?? requestId, { shown: describeMutation(m, path), events });
    }
    return null;
  }

  it('refuses a body nested deeper than 64 levels (400) or larger than 100 kB (413), before parsing it', async () => {
    const auth = validToken(0);
    const nested = (depth: number) => `{"name":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    const post = (text: string) =>
      http().post('/accounts').set('Authorization', auth).set('Content-Type', 'application/json').send(text);
    expect((await post(nested(64))).status).toBe(400); // DTO validation: name must be a string
    const tooDeep = await post(nested(65));
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.message).toMatch(/nested deeper than 64/);
    for (const text of [
      `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
      `[${'['.repeat(20_000)}${']'.repeat(20_000)}]`,
    ]) {
      const res = await post(text);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/nested deeper than 64/);
    }
    // Brackets inside strings are text, not nesting.
    expect((await post(`{"name":"${'['.repeat(5_000)}"}`)).status).toBe(400);
    expect((await post(`{"name":"${'['.repeat(5_000)}"}`)).body.message.join(' ')).not.toMatch(/nested/);
    expect((await post(JSON.stringify({ name: 'x'.repeat(110_000) }))).status).toBe(413);
  });

  it(`answers ${BATCH * BATCHES} generated mutations without a 5xx or a dropped connection, each 2xx audited once`, async () => {
    const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
    const problems: string[] = [];
    // FUZZ_SURVEY=1: run every batch and list every bad answer at the end, instead of stopping at the first.
    const survey = Boolean(process.env.FUZZ_SURVEY);
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        // Concurrent, except that PATCHes of one account go one after the other (each answer is the
        // state the next one starts from).
        const lanes = new Map<string, Mutation[]>();
        batch.forEach((m, i) => {
          const lane = m.method === 'patch' && typeof m.target === 'number' ? `account-${m.target}` : `${i}`;
          lanes.set(lane, [...(lanes.get(lane) ?? []), m]);
        });
        const found: string[] = [];
        await Promise.all(
          [...lanes.values()].map(async (lane) => {
            for (const m of lane) {
              const problem = await send(m);
              if (problem) found.push(problem);
            }
          }),
        );
        if (survey) problems.push(...found);
        else if (found.length) throw new Error(`${found.length} bad answer(s):\n${found.join('\n')}`);
      }),
      { numRuns: BATCHES, seed, endOnFailure: true },
    );

    // Every 2xx mutation: exactly one event with its request id, once the writer has flushed.
    await flushAudit(app);
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ request_id: string; events: string }>(
        `SELECT request_id::text, count(*) AS events FROM audit_events_all
          WHERE request_id::text = ANY($1::text[]) GROUP BY 1`,
        [[...succeeded.keys()]],
      );
      const counts = new Map(rows.map((r) => [r.request_id, Number(r.events)]));
      for (const [id, { shown, events: expected }] of succeeded) {
        const events = counts.get(id) ?? 0;
        if (events !== expected)
          problems.push(
            `${shown}\n  -> 2xx with ${events} audit events, expected ${expected} (request ${id})`,
          );
      }
    } finally {
      await client.end();
    }
    console.log(
      `fuzz-mutations: ${sent} requests, ${succeeded.size} 2xx, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
    );
    expect(problems).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(BATCH * BATCHES);
    expect(succeeded.size).toBeGreaterThan(BATCH * BATCHES * 0.05);
  }, 240_000);
});
