import { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import { Agent } from 'node:http';
import { AddressInfo } from 'node:net';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp, token } from './support/test-app';

/**
 * Property-based fuzzing of every admin endpoint's query values and path segments: arbitrary text (NUL,
 * control characters, lone surrogates, invalid UTF-8 bytes), huge and odd numbers, odd ISO 8601 forms,
 * random UUIDs. Whatever the input: no 5xx, never a dropped connection, and an export that answers 200
 * holds no error record. FUZZ_SEED=<n> replays a run; FUZZ_BATCHES scales it; FUZZ_SURVEY=1 lists every
 * bad answer of the whole run instead of stopping at the first failing batch.
 */

/** A query value or path segment: text (sent as WTF-8, lone surrogates included) or raw bytes. */
type Value = string | { bytes: Uint8Array };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const hex = (byte: number) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;

/** Percent-encodes every code unit, a lone surrogate as its 3-byte (invalid UTF-8) form. */
function encode(value: Value): string {
  if (typeof value !== 'string') return [...value.bytes].map(hex).join('');
  let out = '';
  for (const char of value) {
    if (UNRESERVED.test(char)) out += char;
    else if (char.length === 1 && char.charCodeAt(0) >= 0xd800 && char.charCodeAt(0) <= 0xdfff) {
      const unit = char.charCodeAt(0);
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map(hex).join('');
    } else out += [...Buffer.from(char, 'utf8')].map(hex).join('');
  }
  return out;
}

const show = (value: Value) =>
  typeof value === 'string' ? JSON.stringify(value) : `bytes(${Buffer.from(value.bytes).toString('hex')})`;

// ---- Arbitraries ---------------------------------------------------------------------------------------

const HOSTILE = [
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u2028',
  '\ufeff',
  '\ufffd',
];
const PUNCTUATION = [...'%&=+#?/\\"\'`<>*!|:;,[]{}() .-_@$^~'];
const text = fc.string({
  unit: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...'abcxyzABC019'.split('')) },
    { weight: 2, arbitrary: fc.constantFrom(...PUNCTUATION) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE, '\ud800', '\udfff') },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
    { weight: 1, arbitrary: fc.constantFrom('é', '名', '𝄞', '👩‍👩‍👧') },
  ),
  maxLength: 24,
});
const long = fc.integer({ min: 180, max: 1200 }).map((n) => 'x'.repeat(n));
const number = fc.oneof(
  fc.integer({ min: -5, max: 1200 }).map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.double().map(String),
  fc.constantFrom('1e400', '-1e400', '1e2', '0x10', '0b1', '1_000', ' 1', '1 ', '+1', '-0', '0.5', '5.0'),
  fc.constantFrom('NaN', 'Infinity', '9007199254740993', '99999999999999999999', '9223372036854775808'),
);
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const iso = fc
  .record({
    year: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1965, max: 2100 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 300_000 }) },
    ),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 61 }),
    second: fc.integer({ min: 0, max: 61 }),
    fraction: fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
    offset: fc.constantFrom('', 'Z', 'z', '+00:00', '-14:00', '+14:00', '+14:01', '+99:00', '+0530', '-00'),
    form: fc.constantFrom(
      'date',
      'datetime',
      'minutes',
      'week',
      'ordinal',
      'basic',
      'spaced',
      'signed',
      'hour',
    ),
  })
  .map(({ year, month, day, hour, minute, second, fraction, offset, form }) => {
    const y = pad(year, 4);
    const date = `${y}-${pad(month, 2)}-${pad(day, 2)}`;
    const time = `${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction ? `.${fraction}` : ''}`;
    switch (form) {
      case 'date':
        return date;
      case 'minutes':
        return `${date}T${pad(hour, 2)}:${pad(minute, 2)}${offset}`;
      case 'week':
        return `${y}-W${pad(day, 2)}${month % 2 ? `-${month % 8}` : ''}`;
      case 'ordinal':
        return `${y}-${pad(day * 12, 3)}`;
      case 'basic':
        return `${y}${pad(month, 2)}${pad(day, 2)}${hour % 2 ? `T${pad(hour, 2)}${pad(minute, 2)}${pad(second, 2)}Z` : ''}`;
      case 'spaced':
        return `${date} ${time}${offset}`;
      case 'signed':
        return `+${pad(year, 6)}-${pad(month, 2)}-${pad(day, 2)}T${time}Z`;
      case 'hour':
        return `${date}T${pad(hour, 2)}${offset}`;
      default:
        return `${date}T${time}${offset}`;
    }
  });
const uuid = fc.oneof(
  fc.uuid(),
  fc.uuid({ version: 7 }),
  fc.constantFrom(
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    'ffffffff-ffff-7fff-bfff-ffffffffffff',
    '00000000-0000-0000-0000-000000000000',
    'FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF',
  ),
  fc.stringMatching(/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/),
);
const bytes = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b): Value => ({ bytes: b }));

/** A value for `name`: mostly plausible for it, often hostile. */
function valueFor(plausible: fc.Arbitrary<string>): fc.Arbitrary<Value> {
  return fc.oneof(
    { weight: 5, arbitrary: plausible },
    { weight: 3, arbitrary: text },
    { weight: 2, arbitrary: iso },
    { weight: 2, arbitrary: number },
    { weight: 1, arbitrary: uuid },
    { weight: 1, arbitrary: long },
    { weight: 1, arbitrary: bytes },
    { weight: 1, arbitrary: fc.constant('') },
  );
}

const PLAUSIBLE: Record<string, fc.Arbitrary<string>> = {
  organizationId: fc.constantFrom('org-0', 'org-1', 'org-7', 'org-x'),
  actorId: fc.constantFrom('u1', 'u2', 'root'),
  resourceType: fc.constantFrom('account', 'invoice', 'audit-event'),
  resourceId: fc.constantFrom('1', 'inv-1'),
  action: fc.constantFrom('create', 'update', 'list', 'export', 'a.b:c-d_e'),
  eventType: fc.constantFrom('invoice.update', 'audit-event.list', 'a:b'),
  status: fc.constantFrom('success', 'failure'),
  severity: fc.constantFrom('info', 'notice', 'warning', 'critical'),
  from: iso,
  to: iso,
  q: fc.constantFrom('invoice', '"exact phrase"', 'a OR b', '-not', 'total:*', '!!', '&|'),
  limit: fc.integer({ min: 1, max: 200 }).map(String),
  cursor: fc.stringMatching(/^[A-Za-z0-9_-]{4,40}\.[A-Za-z0-9_-]{32}$/),
  format: fc.constantFrom('ndjson', 'csv'),
  groupBy: fc.constantFrom('day', 'action', 'resourceType', 'organization', 'dayAction', 'actor'),
  reason: fc.constantFrom('ticket', 'Ticket 4711', '100%', 'a_b', "o'brien"),
  at: iso,
  exact: fc.constantFrom('true', 'false'),
  // A real run of the archive job or maintenance is not what is fuzzed here: `false` is sent as `true`.
  dryRun: fc.constantFrom('true'),
};

const FILTERS = [
  'organizationId',
  'actorId',
  'resourceType',
  'resourceId',
  'action',
  'eventType',
  'status',
  'severity',
  'from',
  'to',
  'q',
  'reason',
];

interface Endpoint {
  method: 'get' | 'post';
  /** Path with `:segment` placeholders. */
  path: string;
  segments: Record<string, fc.Arbitrary<string>>;
  params: string[];
  /** Which token: reads go to a token of one small organization (its exports stay small). */
  as: 'reader' | 'platform';
}

const ENDPOINTS: Endpoint[] = [
  {
    method: 'get',
    path: '/audit/events',
    segments: {},
    params: [...FILTERS, 'limit', 'cursor'],
    as: 'reader',
  },
  { method: 'get', path: '/audit/events/:id', segments: { id: uuid }, params: [], as: 'reader' },
  {
    method: 'get',
    path: '/audit/resources/:type/:id/history',
    segments: { type: PLAUSIBLE.resourceType, id: PLAUSIBLE.resourceId },
    params: ['limit', 'cursor'],
    as: 'reader',
  },
  {
    method: 'get',
    path: '/audit/actors/:id/activity',
    segments: { id: PLAUSIBLE.actorId },
    params: [...FILTERS, 'limit', 'cursor'],
    as: 'reader',
  },
  {
    method: 'get',
    path: '/audit/stats',
    segments: {},
    params: ['from', 'to', 'groupBy', 'organizationId', 'limit'],
    as: 'reader',
  },
  {
    method: 'get',
    path: '/audit/actors/:id/summary',
    segments: { id: PLAUSIBLE.actorId },
    params: ['from', 'to', 'organizationId'],
    as: 'reader',
  },
  {
    method: 'get',
    path: '/audit/resources/:type/:id/as-of',
    segments: { type: PLAUSIBLE.resourceType, id: PLAUSIBLE.resourceId },
    params: ['at', 'organizationId'],
    as: 'reader',
  },
  {
    method: 'get',
    path: '/audit/resources/:type/:id/diff',
    segments: { type: PLAUSIBLE.resourceType, id: PLAUSIBLE.resourceId },
    params: ['from', 'to', 'organizationId'],
    as: 'reader',
  },
  {
    method: 'get',
    path: '/audit/requests/:requestId',
    segments: { requestId: fc.constantFrom('req-1', '7b6d3942-e48d-4f57-8c93-74f293c40ff5') },
    params: ['limit', 'cursor', 'organizationId'],
    as: 'reader',
  },
  {
    method: 'get',
    path: '/audit/transactions/:txid',
    segments: { txid: fc.constantFrom('1', '5273', '007', '18446744073709551615') },
    params: ['limit', 'cursor', 'organizationId'],
    as: 'reader',
  },
  {
    method: 'post',
    path: '/audit/resources/:type/:id/revert',
    segments: { type: PLAUSIBLE.resourceType, id: PLAUSIBLE.resourceId },
    params: [],
    as: 'reader',
  },
  {
    method: 'post',
    path: '/audit/requests/:requestId/revert',
    segments: { requestId: fc.constantFrom('req-1') },
    params: [],
    as: 'reader',
  },
  { method: 'get', path: '/audit/integrity/status', segments: {}, params: ['organizationId'], as: 'reader' },
  { method: 'get', path: '/audit/me', segments: {}, params: [], as: 'reader' },
  { method: 'get', path: '/audit/export', segments: {}, params: [...FILTERS, 'format'], as: 'reader' },
  {
    method: 'get',
    path: '/audit/integrity/verify',
    segments: {},
    params: ['from', 'to', 'organizationId'],
    as: 'reader',
  },
  { method: 'get', path: '/audit/integrity/public-keys', segments: {}, params: [], as: 'reader' },
  {
    method: 'post',
    path: '/audit/subjects/:subjectId/erase',
    segments: { subjectId: fc.constantFrom('account:1', 'u1') },
    params: ['organizationId'],
    as: 'reader',
  },
  { method: 'get', path: '/audit/partitions', segments: {}, params: ['exact'], as: 'platform' },
  { method: 'post', path: '/audit/partitions/maintenance', segments: {}, params: ['dryRun'], as: 'platform' },
  { method: 'get', path: '/audit/archives', segments: {}, params: [], as: 'platform' },
  { method: 'post', path: '/audit/archives/run', segments: {}, params: ['dryRun'], as: 'platform' },
  {
    method: 'post',
    path: '/audit/archives/:id/restore',
    segments: { id: uuid },
    params: ['dryRun'],
    as: 'platform',
  },
];

interface FuzzRequest {
  method: 'get' | 'post';
  url: string;
  shown: string;
  reader: number;
  as: Endpoint['as'];
  isExport: boolean;
}

const READERS = 120;
const UNKNOWN_PARAMS = ['foo', 'from[]', 'limit[0]', '__proto__', 'constructor', 'a.b', ''];

const requestFor = (endpoint: Endpoint): fc.Arbitrary<FuzzRequest> =>
  fc
    .record({
      segments: fc.record(
        Object.fromEntries(Object.entries(endpoint.segments).map(([name, arb]) => [name, valueFor(arb)])),
      ) as fc.Arbitrary<Record<string, Value>>,
      params: fc
        .subarray(endpoint.params, { maxLength: Math.min(5, endpoint.params.length) })
        .chain((names) =>
          fc.tuple(...names.map((name) => fc.tuple(fc.constant(name), valueFor(PLAUSIBLE[name])))),
        ),
      // Now and then a parameter the endpoint does not know, or one of its own twice.
      extra: fc.oneof(
        { weight: 7, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.tuple(fc.constantFrom(...UNKNOWN_PARAMS, ...endpoint.params), valueFor(text)),
        },
      ),
      reader: fc.nat({ max: READERS - 1 }),
    })
    .map(({ segments, params, extra, reader }) => {
      const query = extra ? [...params, extra] : params;
      const path = endpoint.path.replace(/:(\w+)/g, (_m, name: string) => encode(segments[name]));
      const qs = query.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&');
      const shownPath = endpoint.path.replace(/:(\w+)/g, (_m, name: string) => `{${show(segments[name])}}`);
      return {
        method: endpoint.method,
        url: qs ? `${path}?${qs}` : path,
        shown: `${endpoint.method.toUpperCase()} ${shownPath} ${query.map(([n, v]) => `${n}=${show(v)}`).join(' ')}`,
        reader,
        as: endpoint.as,
        isExport: endpoint.path === '/audit/export',
      };
    });

const anyRequest = fc.oneof(
  ...ENDPOINTS.map((endpoint) => ({
    weight:
      endpoint.params.length > 4
        ? 4
        : endpoint.params.length > 0 || Object.keys(endpoint.segments).length
          ? 2
          : 1,
    arbitrary: requestFor(endpoint),
  })),
);

// ---- The suite -----------------------------------------------------------------------------------------

const BATCH = 12;
const BATCHES = Number(process.env.FUZZ_BATCHES ?? 600);

describe('admin API fuzz', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let baseUrl: string;
  const agent = new Agent({ keepAlive: true, maxSockets: BATCH });
  const readers: string[] = [];
  let platform: string;
  let sent = 0;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    // Readers of many small organizations (each request's own access event lands in its organization),
    // some with the other roles; one platform operator.
    for (let i = 0; i < READERS; i++) {
      const roles = [['audit:read'], ['audit:read', 'audit:admin'], ['audit:read:all'], []][i % 4];
      readers.push(await token({ sub: `fuzz-${i}`, org: `org-${i}`, roles }));
    }
    platform = await token({
      sub: 'operator',
      org: 'org-ops',
      roles: ['audit:read', 'audit:admin', 'audit:platform'],
    });
  });

  afterAll(async () => {
    agent.destroy();
    await app?.close();
    await db?.drop();
  });

  /** A problem with the answer, or null. */
  async function send(req: FuzzRequest): Promise<string | null> {
    const auth = req.as === 'platform' ? platform : readers[req.reader];
    sent++;
    let res: request.Response;
    try {
      const client = request(baseUrl);
      res = await (req.method === 'get' ? client.get(req.url) : client.post(req.url))
        .agent(agent)
        .set('Authorization', `Bearer ${auth}`)
        .timeout(30_000)
        .buffer(true)
        .parse((response, callback) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => callback(null, body));
        });
    } catch (error) {
      const err = error as Error & { code?: string; response?: unknown };
      if (err.response) return null;
      return `${req.shown}\n  -> no response (${err.code ?? err.message}) [${req.url}]`;
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const body = String(res.body);
    if (res.status >= 500) return `${req.shown}\n  -> ${res.status} ${body.slice(0, 300)} [${req.url}]`;
    if (req.isExport && res.status === 200 && /EXPORT_INCOMPLETE/.test(body.slice(-400)))
      return `${req.shown}\n  -> 200 with an error record: ${body.slice(-300)} [${req.url}]`;
    return null;
  }

  it(`answers ${BATCH * BATCHES} generated requests without a 5xx or a dropped connection`, async () => {
    const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
    // FUZZ_SURVEY=1: run every batch and list every bad answer at the end, instead of stopping at the first.
    const survey = Boolean(process.env.FUZZ_SURVEY);
    const problems: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(anyRequest, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const found = (await Promise.all(batch.map(send))).filter((p): p is string => p !== null);
        if (survey) problems.push(...found);
        else if (found.length) throw new Error(`${found.length} bad answer(s):\n${found.join('\n')}`);
      }),
      { numRuns: BATCHES, seed, endOnFailure: true },
    );
    console.log(
      `fuzz-admin: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
    );
    expect(problems).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(BATCH * BATCHES);
  }, 240_000);
});
