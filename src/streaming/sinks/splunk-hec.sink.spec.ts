import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { formatEvents } from '../formats';
import { DeliveryError, DestinationSpec, StreamEvent } from '../streaming.types';
import { splunkHecKind } from './splunk-hec.sink';

const TOKEN = '11111111-2222-3333-4444-555555555555';

/** A local server that keeps each request and answers what the test sets. */
async function capture(answer: { status: number; body: string }) {
  const requests: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      requests.push({
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, requests, answer, close: () => new Promise((resolve) => server.close(resolve)) };
}

function spec(settings: Record<string, unknown>, id = 'dest-1'): DestinationSpec {
  return { id, name: 'splunk', kind: 'splunk-hec', format: 'json', settings, secret: { token: TOKEN } };
}

function events(n: number): StreamEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    event: {
      id: `e${i}`,
      occurredAt: `2026-12-07T10:00:0${i}.25${i}Z`,
      organizationId: 'org_1',
      action: 'update',
      eventType: 'invoice.update',
      actorId: 'pii:v1:TOKEN',
    } as StreamEvent['event'],
    orgKey: 'org_1',
    sealSeq: String(i + 1),
  }));
}

describe('splunkHecKind.validate', () => {
  it('accepts a minimal and a full destination', () => {
    expect(splunkHecKind.validate({ url: 'https://splunk.example.com:8088' }, { token: TOKEN })).toEqual([]);
    const full = {
      url: 'https://h:8088',
      index: 'audit_prod',
      source: 'app',
      sourcetype: 'audit:json',
      host: 'api-1',
    };
    expect(
      splunkHecKind.validate({ ...full, maxBatchEvents: 200, maxBatchBytes: 500_000 }, { token: TOKEN }),
    ).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Record<string, string>]>([
    ['settings.url is required', {}, { token: TOKEN }],
    ['settings.url must be an http or https URL', { url: 'ftp://h' }, { token: TOKEN }],
    ['settings.url must not carry credentials', { url: 'https://u:p@h' }, { token: TOKEN }],
    ['settings.url must not carry a query string', { url: 'https://h?token=x' }, { token: TOKEN }],
    [
      'settings.index must be a Splunk index name',
      { url: 'https://h', index: 'Audit Prod' },
      { token: TOKEN },
    ],
    ['settings.sourcetype must be printable', { url: 'https://h', sourcetype: 'a\nb' }, { token: TOKEN }],
    ['settings.host must be printable', { url: 'https://h', host: 42 }, { token: TOKEN }],
    ['settings.maxBatchEvents must be an integer', { url: 'https://h', maxBatchEvents: 0 }, { token: TOKEN }],
    ['settings.maxBatchBytes must be an integer', { url: 'https://h', maxBatchBytes: 1.5 }, { token: TOKEN }],
    ['settings.ack must be true or false', { url: 'https://h', ack: 'yes' }, { token: TOKEN }],
    ['settings.ackTimeoutMs must be an integer', { url: 'https://h', ackTimeoutMs: -1 }, { token: TOKEN }],
    ['secret.token is required', { url: 'https://h' }, {}],
    ['secret.token is required', { url: 'https://h' }, { token: 'has space' }],
  ])('%s', (problem, settings, secret) => {
    const problems = splunkHecKind.validate(settings, secret);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });

  it('hosts: the URL host', () => {
    expect(splunkHecKind.hosts({ url: 'https://splunk.internal:8088' })).toEqual(['splunk.internal']);
  });
});

describe('Splunk HEC sink', () => {
  it('POSTs concatenated HEC events to <url>/services/collector/event with the token and the envelope', async () => {
    const hec = await capture({ status: 200, body: '{"text":"Success","code":0}' });
    try {
      const sink = splunkHecKind.create(spec({ url: `${hec.base}/services/collector/`, index: 'audit' }));
      await sink.send({ deliveryId: 'd1', events: formatEvents('json', events(3)) });
      expect(hec.requests).toHaveLength(1);
      const [request] = hec.requests;
      expect(request.url).toBe('/services/collector/event');
      expect(request.headers.authorization).toBe(`Splunk ${TOKEN}`);
      const lines = request.body.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.map((l) => l.time)).toEqual([1796637600.25, 1796637601.251, 1796637602.252]);
      expect(lines[0]).toEqual({
        time: 1796637600.25,
        index: 'audit',
        sourcetype: 'nest-audit-trail',
        event: { ...events(1)[0].event, chainSeq: '1' },
      });
    } finally {
      await hec.close();
    }
  });

  it('keeps one request channel per destination, across sink instances', async () => {
    const hec = await capture({ status: 200, body: '{"text":"Success","code":0}' });
    try {
      for (const id of ['dest-1', 'dest-1', 'dest-2'])
        await splunkHecKind
          .create(spec({ url: hec.base }, id))
          .send({ deliveryId: 'd', events: formatEvents('json', events(1)) });
      const channels = hec.requests.map((r) => r.headers['x-splunk-request-channel']);
      expect(channels[0]).toBe(channels[1]);
      expect(channels[2]).not.toBe(channels[0]);
    } finally {
      await hec.close();
    }
  });

  it.each<[number, string, string]>([
    [400, '{"text":"Invalid data format","code":6,"invalid-event-number":2}', 'reject'],
    [400, '{"text":"No data","code":5}', 'reject'],
    [400, '{"text":"Event field is required","code":12}', 'reject'],
    [400, '{"text":"Incorrect index","code":7}', 'pause'],
    [400, '{"text":"Data channel is missing","code":10}', 'pause'],
    [400, '{"text":"ACK is disabled","code":14}', 'pause'],
    [401, '{"text":"Token is required","code":2}', 'pause'],
    [403, '{"text":"Invalid token","code":4}', 'pause'],
    [403, '{"text":"Token disabled","code":1}', 'pause'],
    [404, 'not found', 'pause'],
    [413, 'Content too large', 'reject'],
    [429, '', 'retry'],
    [500, '{"text":"Internal server error","code":8}', 'retry'],
    [503, '{"text":"Server is busy","code":9}', 'retry'],
    [400, 'garbage', 'reject'],
    [200, '{"text":"Server is busy","code":9}', 'retry'],
  ])('%i %s: %s', async (status, body, failure) => {
    const hec = await capture({ status, body });
    try {
      const sink = splunkHecKind.create(spec({ url: hec.base }));
      const error = await sink
        .send({ deliveryId: 'd', events: formatEvents('json', events(2)) })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeliveryError);
      expect((error as DeliveryError).failure).toBe(failure);
      expect((error as DeliveryError).message).toContain(hec.base);
      expect((error as DeliveryError).message).not.toContain(TOKEN);
      expect((error as DeliveryError).message).not.toContain('pii:v1');
    } finally {
      await hec.close();
    }
  });

  it('a refused connection retries and names the host, not the token', async () => {
    const hec = await capture({ status: 200, body: '' });
    await hec.close();
    const error = (await splunkHecKind
      .create(spec({ url: hec.base }))
      .send({ deliveryId: 'd', events: formatEvents('json', events(1)) })
      .catch((e: unknown) => e)) as DeliveryError;
    expect(error.failure).toBe('retry');
    expect(error.message).toBe(`POST ${hec.base} failed (ECONNREFUSED)`);
  });
});
