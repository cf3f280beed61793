import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { formatEvents } from '../formats';
import { DeliveryError, DestinationSpec, StreamEvent } from '../streaming.types';
import { datadogKind } from './datadog.sink';

const API_KEY = 'abcdef0123456789abcdef0123456789';

/** A local server that keeps each request (body inflated when gzip) and answers `status`. */
async function capture(status = 202) {
  const requests: Array<{ url: string; headers: IncomingHttpHeaders; body: unknown }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = (request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString();
      requests.push({ url: request.url ?? '', headers: request.headers, body: JSON.parse(text) });
      response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/logs`;
  return { url, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}

function spec(settings: Record<string, unknown>): DestinationSpec {
  return {
    id: 'dd',
    name: 'datadog',
    kind: 'datadog',
    format: 'json',
    settings,
    secret: { apiKey: API_KEY },
  };
}

function events(n: number, overrides: Partial<StreamEvent['event']> = {}): StreamEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    event: {
      id: `e${i}`,
      occurredAt: '2026-12-07T10:00:00.000Z',
      organizationId: 'Org_1',
      actorId: 'pii:v1:ACTOR',
      actorType: 'user',
      action: 'update',
      eventType: 'invoice.update',
      resourceType: 'invoice',
      resourceId: `inv_${i}`,
      status: 'success',
      severity: 'warning',
      ...overrides,
    } as StreamEvent['event'],
    orgKey: 'Org_1',
    sealSeq: String(i + 1),
  }));
}

describe('datadogKind.validate', () => {
  it('accepts a minimal and a full destination', () => {
    expect(datadogKind.validate({}, { apiKey: API_KEY })).toEqual([]);
    expect(
      datadogKind.validate(
        {
          site: 'us5.datadoghq.com',
          service: 'billing-api',
          hostname: 'api-1',
          tags: ['env:prod', 'team:sec'],
          compress: false,
          maxBatchEvents: 1000,
        },
        { apiKey: API_KEY },
      ),
    ).toEqual([]);
    expect(
      datadogKind.validate({ url: 'https://dd-proxy.internal/api/v2/logs' }, { apiKey: API_KEY }),
    ).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Record<string, string>]>([
    ['secret.apiKey is required', {}, {}],
    ['secret.apiKey is required', {}, { apiKey: 'key with spaces' }],
    ['settings.site must be a Datadog site', { site: 'https://datadoghq.com' }, { apiKey: API_KEY }],
    ['settings.url must be an http or https URL', { url: 'ftp://x' }, { apiKey: API_KEY }],
    ['settings.service must be printable', { service: 'two words' }, { apiKey: API_KEY }],
    ['settings.hostname must be printable', { hostname: '' }, { apiKey: API_KEY }],
    ['settings.tags must be a list of Datadog tags', { tags: 'env:prod' }, { apiKey: API_KEY }],
    ['settings.tags must be a list of Datadog tags', { tags: ['Env,prod'] }, { apiKey: API_KEY }],
    ['settings.compress must be true or false', { compress: 'yes' }, { apiKey: API_KEY }],
    [
      'settings.maxBatchEvents must be an integer from 1 to 1000',
      { maxBatchEvents: 1001 },
      { apiKey: API_KEY },
    ],
  ])('%s', (problem, settings, secret) => {
    const problems = datadogKind.validate(settings, secret);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });
});

describe('Datadog sink', () => {
  it('POSTs a gzip JSON array of logs with DD-API-KEY: source, tags, host, service, status, message, audit', async () => {
    const intake = await capture();
    try {
      const sink = datadogKind.create(spec({ url: intake.url, tags: ['env:test'] }));
      const formatted = formatEvents('json', events(2, { organizationId: 'Org 1,evil:tag' }));
      await sink.send({ deliveryId: 'd', events: formatted });
      const [request] = intake.requests;
      expect(request.headers['dd-api-key']).toBe(API_KEY);
      expect(request.headers['content-encoding']).toBe('gzip');
      expect(request.body).toEqual(
        formatted.map((f, i) => ({
          ddsource: 'nest-audit-trail',
          ddtags: 'org:org_1_evil:tag,action:update,event_type:invoice.update,outcome:success,env:test',
          hostname: hostname(),
          service: 'nest-audit-trail',
          status: 'warn',
          message: `invoice.update invoice inv_${i} by user pii:v1:ACTOR (success)`,
          audit: f.record,
        })),
      );
    } finally {
      await intake.close();
    }
  });

  it('sends plain JSON when compress is false', async () => {
    const intake = await capture();
    try {
      await datadogKind
        .create(spec({ url: intake.url, compress: false }))
        .send({ deliveryId: 'd', events: formatEvents('ocsf', events(1)) });
      expect(intake.requests[0].headers['content-encoding']).toBeUndefined();
      expect((intake.requests[0].body as Array<{ audit: { class_uid: number } }>)[0].audit.class_uid).toBe(
        6003,
      );
    } finally {
      await intake.close();
    }
  });

  it('caps a batch at 1000 entries per request and maxBatchEvents at 1000', async () => {
    const intake = await capture();
    try {
      const sink = datadogKind.create(spec({ url: intake.url, maxBatchEvents: 5000 }));
      expect(sink.maxBatchEvents).toBe(1000);
      await sink.send({ deliveryId: 'd', events: formatEvents('json', events(2500)) });
      expect(intake.requests.map((r) => (r.body as unknown[]).length)).toEqual([1000, 1000, 500]);
    } finally {
      await intake.close();
    }
  });

  it('keeps each request under 5 MB uncompressed', async () => {
    const intake = await capture();
    try {
      const big = events(12).map((e) => ({
        ...e,
        event: { ...e.event, after: { blob: 'y'.repeat(900_000) } },
      }));
      await datadogKind
        .create(spec({ url: intake.url }))
        .send({ deliveryId: 'd', events: formatEvents('json', big) });
      const sizes = intake.requests.map((r) => Buffer.byteLength(JSON.stringify(r.body)));
      expect(sizes.length).toBeGreaterThan(2);
      for (const size of sizes) expect(size).toBeLessThanOrEqual(5 * 1024 * 1024);
      expect(
        intake.requests.flatMap((r) => (r.body as Array<{ audit: { id: string } }>).map((l) => l.audit.id)),
      ).toEqual(big.map((e) => e.event.id));
    } finally {
      await intake.close();
    }
  });

  it.each<[number, string]>([
    [400, 'reject'],
    [401, 'pause'],
    [403, 'pause'],
    [408, 'retry'],
    [413, 'reject'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ])('%i: %s, naming the intake, never the key', async (status, failure) => {
    const intake = await capture(status);
    try {
      const error = (await datadogKind
        .create(spec({ url: intake.url }))
        .send({ deliveryId: 'd', events: formatEvents('json', events(1)) })
        .catch((e: unknown) => e)) as DeliveryError;
      expect(error).toBeInstanceOf(DeliveryError);
      expect(error.failure).toBe(failure);
      expect(error.message).toContain(new URL(intake.url).origin);
      expect(error.message).not.toContain(API_KEY);
    } finally {
      await intake.close();
    }
  });
});
