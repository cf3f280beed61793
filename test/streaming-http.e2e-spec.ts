import Ajv2020 from 'ajv/dist/2020';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatEvents } from '../src/streaming/formats';
import { OCSF_VERSION } from '../src/streaming/formats/ocsf';
import { datadogKind } from '../src/streaming/sinks/datadog.sink';
import { splunkHecKind } from '../src/streaming/sinks/splunk-hec.sink';
import { webhookKind } from '../src/streaming/sinks/webhook.sink';
import {
  AuditSink,
  DeliveryError,
  DestinationFormat,
  OutboundBatch,
  SinkKind,
  StreamEvent,
} from '../src/streaming/streaming.types';
import {
  HttpTestReceiver,
  startDatadogReceiver,
  startSplunkHecReceiver,
  startWebhookReceiver,
} from './support/receivers/http-receiver';
import { deliveryProblems, ReceiverDestination } from './support/receivers/receiver';

// Direct sink tests: StreamEvents formatted as json and OCSF, sent by each HTTP sink to a real HTTP server
// speaking that service's protocol (test/support/receivers/http-receiver.ts), no streamer in between.

const HOSTILE = `"'<img src=x onerror=alert(1)>\u0000\u001b[2J\r\n\u2028},{"id":"forged"}\\ ünïcødé \ud83d\udd25`;
const ORGS = ['org_alpha', 'org_beta', 'org,with=odd chars', null];
const schema = JSON.parse(
  readFileSync(join(__dirname, 'fixtures/ocsf', `api_activity-${OCSF_VERSION}.schema.json`), 'utf8'),
) as object;
const validateOcsf = new Ajv2020({ strict: true, strictRequired: false, allErrors: true }).compile(schema);

type View = StreamEvent['event'];
let counter = 0;

/** `count` events over several organizations, each organization's in chain order (seal, then time). */
function streamEvents(count: number): StreamEvent[] {
  const seq = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const organizationId = ORGS[i % ORGS.length];
    const orgKey = organizationId ?? '';
    const sealSeq = (seq.get(orgKey) ?? 0) + 1;
    seq.set(orgKey, sealSeq);
    counter += 1;
    const hostile = i % 5 === 0;
    const event = {
      id: `0193a5f0-0000-7000-8000-${String(counter).padStart(12, '0')}`,
      occurredAt: new Date(Date.UTC(2026, 11, 7, 12, 0, 0, counter)).toISOString(),
      organizationId,
      actorId: i % 7 === 0 ? null : `pii:v1:actor${i}Tk0`,
      actorType: i % 7 === 0 ? 'system' : 'user',
      action: ['create', 'read', 'update', 'delete', 'export'][i % 5],
      eventType: `invoice.${['create', 'read', 'update', 'delete', 'export'][i % 5]}`,
      resourceType: 'invoice',
      resourceId: hostile ? HOSTILE : `inv_${i}`,
      before: { email: 'pii:v1:AAAAbeforeTOKEN', total: i },
      after: { email: 'pii:v1:BBBBafterTOKEN', total: i + 1, note: hostile ? HOSTILE : 'ok' },
      changes: [{ path: 'total', before: i, after: i + 1 }],
      status: i % 6 === 0 ? 'failure' : 'success',
      statusCode: i % 6 === 0 ? 422 : 200,
      errorMessage: i % 6 === 0 ? `validation failed ${hostile ? HOSTILE : ''}` : null,
      severity: (['info', 'notice', 'warning', 'critical'] as const)[i % 4],
      requestId: `req-${i}`,
      reason: hostile ? HOSTILE : null,
      transactionId: null,
      ip: i % 3 === 0 ? '2001:db8::1' : '198.51.100.7',
      userAgent: hostile ? HOSTILE : 'Mozilla/5.0',
      route: '/invoices/:id',
      method: 'PATCH',
      durationMs: 3,
      metadata: hostile ? { [HOSTILE]: HOSTILE } : null,
    } as View;
    return { event, orgKey, sealSeq: String(sealSeq) };
  });
}

function batch(events: StreamEvent[], format: DestinationFormat): OutboundBatch {
  return {
    deliveryId: `delivery-${events[0]?.event.id}-${events.length}`,
    events: formatEvents(format, events),
  };
}

const KINDS: Record<string, { kind: SinkKind; start: () => Promise<HttpTestReceiver> }> = {
  webhook: { kind: webhookKind, start: startWebhookReceiver },
  'splunk-hec': { kind: splunkHecKind, start: startSplunkHecReceiver },
  datadog: { kind: datadogKind, start: startDatadogReceiver },
};

function sinkFor(
  kind: SinkKind,
  destination: ReceiverDestination,
  overrides: Partial<ReceiverDestination> = {},
): AuditSink {
  const spec = { ...destination, ...overrides };
  expect(kind.validate(spec.settings, spec.secret)).toEqual([]);
  return kind.create({ id: `dest-${destination.kind}`, name: destination.kind, ...spec });
}

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

const receivers: HttpTestReceiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.destroy()));
});
async function start(name: string): Promise<HttpTestReceiver> {
  const receiver = await KINDS[name].start();
  receivers.push(receiver);
  return receiver;
}

describe.each(Object.keys(KINDS))('%s sink to a real receiver', (name) => {
  const { kind } = KINDS[name];

  it.each(['json', 'ocsf'] as const)(
    'delivers %s events once, in order, in the documented shape',
    async (format) => {
      const receiver = await start(name);
      const sink = sinkFor(kind, receiver.destination(format));
      const events = streamEvents(45);
      for (let i = 0; i < events.length; i += 15) await sink.send(batch(events.slice(i, i + 15), format));
      await sink.close();

      const received = await receiver.received();
      expect(
        deliveryProblems(
          events.map((e) => e.event.id),
          received,
        ),
      ).toEqual([]);
      expect(received.map((r) => r.id)).toEqual(events.map((e) => e.event.id));
      expect(receiver.problems()).toEqual([]);
      expect(receiver.requests().map((r) => r.status)).toEqual(Array(3).fill(name === 'datadog' ? 202 : 200));

      // Each record arrived as formatted: hostile strings and personal tokens byte for byte, nothing decrypted.
      const formatted = formatEvents(format, events);
      const records = received.map((r) => recordOf(name, r.raw));
      expect(records).toEqual(formatted.map((f) => f.record));
      const text = JSON.stringify(records);
      expect(text).toContain('pii:v1:AAAAbeforeTOKEN');
      expect(text).toContain('pii:v1:actor1Tk0');
      expect(text).toContain(JSON.stringify(HOSTILE).slice(1, -1));
      expect(received.map((r) => r.organizationId)).toEqual(events.map((e) => e.event.organizationId));
      expect(received.map((r) => r.chainSeq)).toEqual(events.map((e) => Number(e.sealSeq)));
      if (format === 'ocsf')
        for (const record of records) expect(validateOcsf(record) ? [] : validateOcsf.errors).toEqual([]);
      checkEnvelopes(
        name,
        receiver,
        received.map((r) => r.raw as Record<string, unknown>),
        events,
      );
    },
  );

  it('maps failures: 503 + Retry-After retries, a refused event rejects, bad credentials pause, an outage retries', async () => {
    const receiver = await start(name);
    const destination = receiver.destination('json');
    const sink = sinkFor(kind, destination);
    const events = streamEvents(6);
    const first = batch(events.slice(0, 3), 'json');

    receiver.failNext(1, { status: 503, retryAfter: '7', body: busyBody(name) });
    const busy = await failureOf(sink.send(first));
    expect(busy).toMatchObject({ failure: 'retry', options: { statusCode: 503, retryAfterMs: 7000 } });
    expect(await receiver.received()).toEqual([]);
    await sink.send(first); // the same batch again, once the receiver is back
    expect((await receiver.received()).map((r) => r.id)).toEqual(events.slice(0, 3).map((e) => e.event.id));

    receiver.refuseEvent(events[4].event.id);
    const refused = await failureOf(sink.send(batch(events.slice(3), 'json')));
    expect(refused).toMatchObject({ failure: 'reject', options: { statusCode: 400 } });
    await sink.send(batch([events[3]], 'json')); // what the streamer does after splitting: the rest goes
    await sink.send(batch([events[5]], 'json'));

    const wrongSecret = Object.fromEntries(
      Object.keys(destination.secret).map((k) => [k, `Wrong${'x'.repeat(40)}`]),
    );
    const denied = await failureOf(
      sinkFor(kind, destination, { secret: wrongSecret }).send(batch([events[5]], 'json')),
    );
    expect(denied.failure).toBe('pause');
    expect([401, 403]).toContain(denied.options.statusCode);

    await receiver.stop();
    const down = await failureOf(sink.send(batch([events[5]], 'json')));
    expect(down.failure).toBe('retry');
    expect(down.message).toContain(`127.0.0.1:${new URL(receiver.url).port}`);
    await receiver.start();
    await sink.send(batch([events[5]], 'json'));

    for (const error of [busy, refused, denied, down]) {
      for (const secret of [...Object.values(destination.secret), ...Object.values(wrongSecret)])
        expect(error.message).not.toContain(secret);
      expect(error.message).not.toContain('pii:v1');
    }
    const ids = (await receiver.received()).map((r) => r.id);
    expect(ids).toEqual([0, 1, 2, 3, 5, 5].map((i) => events[i].event.id));
    expect(
      deliveryProblems(
        events.filter((_, i) => i !== 4).map((e) => e.event.id),
        await receiver.received(),
      ),
    ).toEqual([]);
  });

  it('validate names the field of each bad setting and secret', () => {
    const problems = kind.validate({ url: 'ftp://user:pw@example.com', maxBatchEvents: 0 }, {});
    expect(problems.some((p) => p.startsWith('settings.url'))).toBe(true);
    // The webhook kind (not this file's) does not check maxBatchEvents yet.
    if (name !== 'webhook') expect(problems.some((p) => p.startsWith('settings.maxBatchEvents'))).toBe(true);
    expect(problems.some((p) => p.startsWith('secret.'))).toBe(true);
    for (const problem of problems) expect(problem).toMatch(/^(settings|secret)\.\w+/);
  });
});

describe('Splunk HEC specifics', () => {
  it('a 400 that is not about the content (incorrect index) pauses; a busy HEC (code 9) retries', async () => {
    const receiver = await start('splunk-hec');
    const sink = sinkFor(splunkHecKind, receiver.destination());
    const one = batch(streamEvents(1), 'json');
    receiver.failNext(1, {
      status: 400,
      body: '{"text":"Incorrect index","code":7,"invalid-event-number":0}',
    });
    const index = await failureOf(sink.send(one));
    expect(index).toMatchObject({ failure: 'pause', options: { statusCode: 400 } });
    expect(index.message).toContain('Incorrect index, code 7');
    receiver.failNext(1, {
      status: 400,
      body: '{"text":"Invalid data format","code":6,"invalid-event-number":0}',
    });
    expect((await failureOf(sink.send(one))).failure).toBe('reject');
    receiver.failNext(1, { status: 503, body: '{"text":"Server is busy","code":9}' });
    expect((await failureOf(sink.send(one))).failure).toBe('retry');
    receiver.failNext(1, { status: 413, body: 'Content too large' });
    expect((await failureOf(sink.send(one))).failure).toBe('reject');
  });

  it('splits a batch over maxBatchBytes into several requests, in order, on one stable channel', async () => {
    const receiver = await start('splunk-hec');
    const destination = receiver.destination('ocsf');
    const sink = sinkFor(splunkHecKind, destination, {
      settings: { ...destination.settings, maxBatchBytes: 8_000 },
    });
    const events = streamEvents(40);
    await sink.send(batch(events, 'ocsf'));
    const requests = receiver.requests();
    expect(requests.length).toBeGreaterThan(3);
    expect(new Set(requests.map((r) => r.headers['x-splunk-request-channel'])).size).toBe(1);
    expect(requests[0].headers['x-splunk-request-channel']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect((await receiver.received()).map((r) => r.id)).toEqual(events.map((e) => e.event.id));
  });
});

describe('Splunk HEC indexer acknowledgement (settings.ack)', () => {
  async function startAcking(ack: { afterPolls?: number; never?: boolean }): Promise<HttpTestReceiver> {
    const receiver = await startSplunkHecReceiver({ ack });
    receivers.push(receiver);
    return receiver;
  }

  it('a batch counts as delivered once the indexers acknowledged each of its requests', async () => {
    const receiver = await startAcking({ afterPolls: 2 });
    const destination = receiver.destination('json');
    const sink = sinkFor(splunkHecKind, destination, {
      settings: { ...destination.settings, maxBatchBytes: 6_000 },
    });
    const events = streamEvents(12);
    await sink.send(batch(events, 'json'));
    const paths = receiver.requests().map((r) => r.path.split('?')[0]);
    const posts = paths.filter((p) => p === '/services/collector/event').length;
    expect(posts).toBeGreaterThan(1);
    // Every request's ack read false twice, then true: three polls at least after the last event POST.
    expect(paths.slice(posts)).toEqual(Array(3).fill('/services/collector/ack'));
    expect((await receiver.received()).map((r) => r.id)).toEqual(events.map((e) => e.event.id));
  });

  it('not acknowledged in time: retry; acknowledgement asked of a token without it: pause', async () => {
    const never = await startAcking({ never: true });
    const started = Date.now();
    const late = await failureOf(
      sinkFor(splunkHecKind, never.destination()).send(batch(streamEvents(2), 'json')),
    );
    expect(late.failure).toBe('retry');
    expect(late.message).toContain('not acknowledged by the indexers within 2000 ms');
    expect(Date.now() - started).toBeLessThan(5_000);

    const plain = await start('splunk-hec');
    const destination = plain.destination();
    const sink = sinkFor(splunkHecKind, destination, { settings: { ...destination.settings, ack: true } });
    const off = await failureOf(sink.send(batch(streamEvents(1), 'json')));
    expect(off.failure).toBe('pause');
    expect(off.message).toContain('no ackId');
  });
});

describe('Datadog specifics', () => {
  it('sends more than 1000 entries as several gzip requests within the intake limits', async () => {
    const receiver = await start('datadog');
    const sink = sinkFor(datadogKind, receiver.destination());
    expect(sink.maxBatchEvents).toBeLessThanOrEqual(1000);
    const events = streamEvents(1201);
    await sink.send(batch(events, 'json'));
    const requests = receiver.requests();
    expect(requests.map((r) => r.events)).toEqual([1000, 201]);
    expect(requests.every((r) => r.headers['content-encoding'] === 'gzip' && r.status === 202)).toBe(true);
    expect((await receiver.received()).map((r) => r.id)).toEqual(events.map((e) => e.event.id));
    expect(receiver.problems()).toEqual([]);
  });

  it('an entry over 1 MB arrives with its largest fields cut and flagged, the rest of the batch intact', async () => {
    const receiver = await start('datadog');
    const sink = sinkFor(datadogKind, receiver.destination());
    const events = streamEvents(3);
    events[1].event.after = { blob: 'x'.repeat(1_500_000) };
    await sink.send(batch(events, 'json'));
    const received = await receiver.received();
    expect(received.map((r) => r.id)).toEqual(events.map((e) => e.event.id));
    const big = received[1].raw as { truncated?: boolean; audit: Record<string, unknown> };
    expect(big.truncated).toBe(true);
    expect(big.audit.after).toBe('[truncated: 1500011 bytes]');
    expect(big.audit.id).toBe(events[1].event.id);
    expect((received[0].raw as { truncated?: boolean }).truncated).toBeUndefined();
    expect(receiver.problems()).toEqual([]);
  });

  it('413 rejects (the streamer splits), 429 retries', async () => {
    const receiver = await start('datadog');
    const sink = sinkFor(datadogKind, receiver.destination());
    const one = batch(streamEvents(1), 'json');
    receiver.failNext(1, { status: 413, body: '{"errors":["Payload too large"]}' });
    expect((await failureOf(sink.send(one))).failure).toBe('reject');
    receiver.failNext(1, { status: 429, retryAfter: '2' });
    expect(await failureOf(sink.send(one))).toMatchObject({
      failure: 'retry',
      options: { retryAfterMs: 2000 },
    });
  });

  it('hosts: the site intake by default, the url when overridden', () => {
    expect(datadogKind.hosts({})).toEqual(['http-intake.logs.datadoghq.com']);
    expect(datadogKind.hosts({ site: 'datadoghq.eu' })).toEqual(['http-intake.logs.datadoghq.eu']);
    expect(datadogKind.hosts({ url: 'http://127.0.0.1:9/api/v2/logs' })).toEqual(['127.0.0.1']);
  });
});

function busyBody(name: string): string {
  if (name === 'splunk-hec') return '{"text":"Server is busy","code":9}';
  return '{"errors":["Service unavailable"]}';
}

/** The record inside what the receiver kept: the webhook's event itself, HEC's `event`, Datadog's `audit`. */
function recordOf(name: string, raw: unknown): unknown {
  const r = raw as Record<string, unknown>;
  return name === 'splunk-hec' ? r.event : name === 'datadog' ? r.audit : r;
}

function checkEnvelopes(
  name: string,
  receiver: HttpTestReceiver,
  raws: Array<Record<string, unknown>>,
  events: StreamEvent[],
) {
  if (name === 'splunk-hec') {
    raws.forEach((raw, i) =>
      expect(raw).toMatchObject({
        time: Date.parse(events[i].event.occurredAt) / 1000,
        host: 'test-host',
        source: 'nest-audit-trail:test',
        sourcetype: 'nest-audit-trail',
        index: 'audit',
      }),
    );
    expect(String(raws[0].time)).toMatch(/^\d{10}\.\d{1,3}$/);
  }
  if (name === 'datadog') {
    expect(receiver.requests().every((r) => r.headers['content-encoding'] === 'gzip')).toBe(true);
    raws.forEach((raw, i) => {
      const { event } = events[i];
      expect(raw).toMatchObject({
        ddsource: 'nest-audit-trail',
        hostname: 'test-host',
        service: 'audit-test',
      });
      const tags = String(raw.ddtags).split(',');
      expect(tags).toContain(`org:${(event.organizationId ?? 'none').replace(/[^a-z0-9_\-:./]/g, '_')}`);
      expect(tags).toContain(`action:${event.action}`);
      expect(raw.message).toContain(event.eventType);
    });
  }
  if (name === 'webhook')
    expect(receiver.requests().every((r) => r.headers['x-audit-delivery']?.startsWith('delivery-'))).toBe(
      true,
    );
}
