import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { DestinationFormat, DestinationKind } from '../../../src/streaming/streaming.types';
import {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from '../../../src/streaming/sinks/webhook.sink';
import { freePort } from '../process';
import type { ReceivedEvent, ReceiverDestination, TestReceiver } from './receiver';

/** Datadog's documented intake limits (uncompressed payload, array entries, one log). */
const DD_MAX_PAYLOAD = 5 * 1024 * 1024;
const DD_MAX_ENTRIES = 1000;
const DD_MAX_ENTRY = 1024 * 1024;
/** Largest request body read at all (a gzip body is checked again once inflated). */
const MAX_BODY = 16 * 1024 * 1024;

/** An answer forced on the next requests: the status, a body, and a Retry-After (seconds or date). */
export interface InjectedAnswer {
  status: number;
  body?: string;
  retryAfter?: string;
}

/** One request as the receiver saw it: what it answered, and the headers a test may check. */
export interface ReceivedRequest {
  path: string;
  status: number;
  events: number;
  headers: Record<string, string | undefined>;
}

/**
 * A real HTTP server on a free loopback port speaking one of webhook, Splunk HEC or Datadog logs intake. It
 * checks credentials and the documented shape of what arrives, keeps the events of the batches it
 * accepted (in arrival order, duplicates included), answers as the real service does, and can be made to
 * fail: the next N requests (503 with Retry-After, 401...), or every batch holding a given event id (400).
 */
export interface HttpTestReceiver extends TestReceiver {
  readonly kind: DestinationKind;
  /** Base URL (http://127.0.0.1:<port>). */
  readonly url: string;
  /** The next `count` requests get this answer (after the request body was read), nothing is kept. */
  failNext(count: number, answer: InjectedAnswer): void;
  /** Batches containing this event id are refused as the service refuses bad content (400). */
  refuseEvent(id: string): void;
  /** Every request, in order. */
  requests(): ReceivedRequest[];
  /** Shape problems seen in accepted batches (missing envelope fields, bad types...): [] when all was right. */
  problems(): string[];
}

export interface HttpReceiverOptions {
  /** Webhook HMAC secret / HEC token / Datadog API key (random by default). */
  secret?: string;
  /**
   * HEC only: indexer acknowledgement on for the token (answers carry `ackId`, `/services/collector/ack`
   * answers; a channel is required). `afterPolls`: an ack reads false that many times first; `never`: never.
   */
  ack?: { afterPolls?: number; never?: boolean };
}

type Answer = { status: number; body: string; contentType?: string };
type Outcome = { answer: Answer; events: ReceivedEvent[] };

interface Protocol {
  kind: DestinationKind;
  secret: string;
  destination(base: string, format: DestinationFormat): ReceiverDestination;
  /** Checks and parses a request: the events to keep (when the answer is 2xx) and the answer. */
  handle(request: IncomingMessage, body: Buffer, problems: string[]): Outcome;
  /** The service's answer refusing this batch's content. */
  refusal(index: number): Answer;
}

/** The id / org / chain sequence / time of a record, json (`id`, `chainSeq`) or OCSF (`metadata.*`). */
export function receivedEventOf(record: unknown, raw: unknown = record): ReceivedEvent {
  const r = (record ?? {}) as Record<string, unknown>;
  if (r.class_uid !== undefined) {
    const metadata = (r.metadata ?? {}) as Record<string, unknown>;
    return {
      id: String(metadata.uid),
      organizationId: (metadata.tenant_uid as string | undefined) ?? null,
      chainSeq: Number(metadata.sequence),
      occurredAt: String(metadata.original_time ?? new Date(Number(r.time)).toISOString()),
      raw,
    };
  }
  return {
    id: String(r.id),
    organizationId: (r.organizationId as string | null | undefined) ?? null,
    chainSeq: Number(r.chainSeq),
    occurredAt: String(r.occurredAt),
    raw,
  };
}

function json(status: number, value: unknown): Answer {
  return { status, body: JSON.stringify(value), contentType: 'application/json' };
}

const webhook = (secret: string): Protocol => ({
  kind: 'webhook',
  secret,
  destination: (base, format) => ({
    kind: 'webhook',
    format,
    settings: { url: `${base}/audit-hook` },
    secret: { secret },
  }),
  handle(request, body, problems) {
    const signature = header(request, SIGNATURE_HEADER);
    const timestamp = header(request, TIMESTAMP_HEADER);
    if (!verifyWebhookSignature(secret, { signature, timestamp }, body))
      return { answer: json(401, { error: 'bad signature' }), events: [] };
    let parsed: { deliveryId?: unknown; events?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      return { answer: json(400, { error: 'not JSON' }), events: [] };
    }
    if (!Array.isArray(parsed.events))
      return { answer: json(400, { error: 'events must be a list' }), events: [] };
    if (typeof parsed.deliveryId !== 'string' || parsed.deliveryId !== header(request, DELIVERY_HEADER))
      problems.push(
        `webhook: deliveryId ${String(parsed.deliveryId)} does not match the ${DELIVERY_HEADER} header`,
      );
    if (header(request, 'content-type') !== 'application/json')
      problems.push('webhook: content-type is not application/json');
    return {
      answer: json(200, { received: parsed.events.length }),
      events: parsed.events.map((e) => receivedEventOf(e)),
    };
  },
  refusal: () => json(400, { error: 'refused event' }),
});

const HEC_KEYS = new Set(['time', 'host', 'source', 'sourcetype', 'index', 'event', 'fields']);

const splunkHec = (token: string, ack: HttpReceiverOptions['ack']): Protocol => {
  /** Per channel: the next ackId, and how many times each id was polled. */
  const channels = new Map<string, { next: number; polls: Map<number, number> }>();
  const acks = (channel: string, body: Buffer): Answer => {
    let ids: unknown;
    try {
      ids = (JSON.parse(body.toString('utf8')) as { acks?: unknown }).acks;
    } catch {
      return json(400, { text: 'Invalid data format', code: 6 });
    }
    const state = channels.get(channel);
    if (!Array.isArray(ids) || !state) return json(400, { text: 'Invalid data channel', code: 11 });
    const answer: Record<string, boolean> = {};
    for (const id of ids as number[]) {
      const polls = (state.polls.get(id) ?? 0) + 1;
      state.polls.set(id, polls);
      answer[String(id)] = id < state.next && !ack?.never && polls > (ack?.afterPolls ?? 0);
    }
    return json(200, { acks: answer });
  };
  return {
    kind: 'splunk-hec',
    secret: token,
    destination: (base, format) => ({
      kind: 'splunk-hec',
      format,
      settings: {
        url: base,
        index: 'audit',
        source: 'nest-audit-trail:test',
        host: 'test-host',
        ...(ack ? { ack: true, ackTimeoutMs: 2_000 } : {}),
      },
      secret: { token },
    }),
    handle(request, body, problems) {
      const path = request.url?.split('?')[0];
      if (path !== '/services/collector/event' && !(ack && path === '/services/collector/ack'))
        return {
          answer: json(404, { text: 'The requested URL was not found on this server.', code: 404 }),
          events: [],
        };
      const auth = header(request, 'authorization');
      if (!auth) return { answer: json(401, { text: 'Token is required', code: 2 }), events: [] };
      if (auth !== `Splunk ${token}`)
        return { answer: json(403, { text: 'Invalid token', code: 4 }), events: [] };
      const channel = header(request, 'x-splunk-request-channel');
      if (!channel) {
        if (ack) return { answer: json(400, { text: 'Data channel is missing', code: 10 }), events: [] };
        problems.push('hec: no X-Splunk-Request-Channel header');
      }
      if (path === '/services/collector/ack') return { answer: acks(channel ?? '', body), events: [] };
      const outcome = hecEvents(body, problems);
      if (ack && outcome.answer.status === 200) {
        const state = channels.get(channel ?? '') ?? { next: 0, polls: new Map<number, number>() };
        channels.set(channel ?? '', state);
        outcome.answer = json(200, { text: 'Success', code: 0, ackId: state.next++ });
      }
      return outcome;
    },
    refusal: (index) => json(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': index }),
  };
};

/** HEC's /services/collector/event body: concatenated envelopes, checked as HEC checks them. */
function hecEvents(body: Buffer, problems: string[]): Outcome {
  let objects: unknown[];
  try {
    objects = concatenatedJson(body.toString('utf8'));
  } catch (error) {
    return {
      answer: json(400, {
        text: 'Invalid data format',
        code: 6,
        'invalid-event-number': (error as { index: number }).index,
      }),
      events: [],
    };
  }
  if (!objects.length) return { answer: json(400, { text: 'No data', code: 5 }), events: [] };
  const events: ReceivedEvent[] = [];
  for (const [index, object] of objects.entries()) {
    const envelope = object as Record<string, unknown>;
    if (!envelope || typeof envelope !== 'object' || !('event' in envelope))
      return {
        answer: json(400, { text: 'Event field is required', code: 12, 'invalid-event-number': index }),
        events: [],
      };
    if (envelope.event === '' || envelope.event === null)
      return {
        answer: json(400, { text: 'Event field cannot be blank', code: 13, 'invalid-event-number': index }),
        events: [],
      };
    if (envelope.time !== undefined && (typeof envelope.time !== 'number' || !Number.isFinite(envelope.time)))
      return {
        answer: json(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': index }),
        events: [],
      };
    for (const key of Object.keys(envelope))
      if (!HEC_KEYS.has(key)) problems.push(`hec: unknown envelope field ${key}`);
    for (const key of ['host', 'source', 'sourcetype', 'index'])
      if (envelope[key] !== undefined && typeof envelope[key] !== 'string')
        problems.push(`hec: ${key} is not a string`);
    if (typeof envelope.time !== 'number') problems.push('hec: no time in the envelope');
    const received = receivedEventOf(envelope.event, envelope);
    if (
      typeof envelope.time === 'number' &&
      Math.abs(envelope.time * 1000 - Date.parse(received.occurredAt)) > 1
    )
      problems.push(`hec: time ${envelope.time} is not the event's time ${received.occurredAt}`);
    events.push(received);
  }
  return { answer: json(200, { text: 'Success', code: 0 }), events };
}

const datadog = (apiKey: string): Protocol => ({
  kind: 'datadog',
  secret: apiKey,
  destination: (base, format) => ({
    kind: 'datadog',
    format,
    settings: { url: `${base}/api/v2/logs`, service: 'audit-test', hostname: 'test-host' },
    secret: { apiKey },
  }),
  handle(request, raw, problems) {
    if (request.url?.split('?')[0] !== '/api/v2/logs')
      return { answer: json(404, { errors: ['Not found'] }), events: [] };
    if (header(request, 'dd-api-key') !== apiKey)
      return { answer: json(403, { errors: ['Forbidden'] }), events: [] };
    let body = raw;
    const encoding = header(request, 'content-encoding');
    if (encoding === 'gzip') {
      try {
        body = gunzipSync(raw, { maxOutputLength: DD_MAX_PAYLOAD + 1 });
      } catch {
        return { answer: json(413, { errors: ['Payload too large or not gzip'] }), events: [] };
      }
    } else if (encoding && encoding !== 'identity')
      return { answer: json(400, { errors: [`Unsupported encoding ${encoding}`] }), events: [] };
    if (body.length > DD_MAX_PAYLOAD)
      return { answer: json(413, { errors: ['Payload too large'] }), events: [] };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return { answer: json(400, { errors: ['Malformed JSON'] }), events: [] };
    }
    const entries = Array.isArray(parsed) ? parsed : [parsed];
    if (entries.length > DD_MAX_ENTRIES)
      return { answer: json(400, { errors: ['Too many log entries'] }), events: [] };
    const events: ReceivedEvent[] = [];
    for (const entry of entries as Array<Record<string, unknown>>) {
      if (!entry || typeof entry !== 'object')
        return { answer: json(400, { errors: ['Log entry is not an object'] }), events: [] };
      if (Buffer.byteLength(JSON.stringify(entry)) > DD_MAX_ENTRY)
        problems.push('datadog: an entry is over 1 MB (Datadog would cut it)');
      for (const key of ['ddsource', 'ddtags', 'hostname', 'service', 'message'])
        if (typeof entry[key] !== 'string') problems.push(`datadog: ${key} is not a string`);
      if (typeof entry.ddtags === 'string' && !/^[a-z0-9_\-:./]+(,[a-z0-9_\-:./]+)*$/.test(entry.ddtags))
        problems.push(`datadog: ddtags ${entry.ddtags.slice(0, 80)} are not Datadog tags`);
      events.push(receivedEventOf(entry.audit, entry));
    }
    return { answer: json(202, {}), events };
  },
  refusal: () => json(400, { errors: ['Bad request'] }),
});

/**
 * Splits `{...}{...} {...}` (HEC's batch body: JSON objects one after another, any whitespace between)
 * into values; an error carries the index of the object that could not be read.
 */
function concatenatedJson(text: string): unknown[] {
  const values: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    try {
      if (text[start] !== '{' || depth !== 0) throw new Error('not an object');
      values.push(JSON.parse(text.slice(start, i)));
    } catch {
      throw Object.assign(new Error('invalid data format'), { index: values.length });
    }
  }
  return values;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

class HttpReceiver implements HttpTestReceiver {
  private server: Server | null = null;
  private readonly events: ReceivedEvent[] = [];
  private readonly log: ReceivedRequest[] = [];
  private readonly seenProblems: string[] = [];
  private readonly injected: InjectedAnswer[] = [];
  private readonly refused = new Set<string>();

  constructor(
    private readonly protocol: Protocol,
    readonly port: number,
  ) {}

  get name(): string {
    return `${this.protocol.kind} receiver on 127.0.0.1:${this.port}`;
  }
  get kind(): DestinationKind {
    return this.protocol.kind;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  destination(format: DestinationFormat = 'json'): ReceiverDestination {
    return this.protocol.destination(this.url, format);
  }

  async received(): Promise<ReceivedEvent[]> {
    return [...this.events];
  }

  failNext(count: number, answer: InjectedAnswer): void {
    for (let i = 0; i < count; i++) this.injected.push(answer);
  }

  refuseEvent(id: string): void {
    this.refused.add(id);
  }

  requests(): ReceivedRequest[] {
    return [...this.log];
  }

  problems(): string[] {
    return [...this.seenProblems];
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((request, response) => void this.serve(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request).catch(() => null);
    const headers = {
      authorization: header(request, 'authorization') ? '(present)' : undefined,
      'content-encoding': header(request, 'content-encoding'),
      'content-type': header(request, 'content-type'),
      'x-splunk-request-channel': header(request, 'x-splunk-request-channel'),
      [DELIVERY_HEADER]: header(request, DELIVERY_HEADER),
    };
    const finish = (answer: Answer, events: number, retryAfter?: string) => {
      this.log.push({ path: request.url ?? '', status: answer.status, events, headers });
      response.writeHead(answer.status, {
        'content-type': answer.contentType ?? 'text/plain',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      });
      response.end(answer.body);
    };
    if (request.method !== 'POST') return finish({ status: 405, body: 'POST only' }, 0);
    if (!body) return finish({ status: 413, body: 'too large' }, 0);
    const injected = this.injected.shift();
    if (injected)
      return finish({ status: injected.status, body: injected.body ?? '' }, 0, injected.retryAfter);
    const { answer, events } = this.protocol.handle(request, body, this.seenProblems);
    if (answer.status >= 300) return finish(answer, 0);
    const refusedAt = events.findIndex((e) => this.refused.has(e.id));
    if (refusedAt >= 0) return finish(this.protocol.refusal(refusedAt), 0);
    this.events.push(...events);
    finish(answer, events.length);
  }
}

async function startReceiver(protocol: Protocol): Promise<HttpTestReceiver> {
  const receiver = new HttpReceiver(protocol, await freePort());
  await receiver.start();
  return receiver;
}

const randomSecret = () => randomBytes(24).toString('hex');

/** A signed-webhook endpoint: verifies X-Audit-Signature / X-Audit-Timestamp (401 when wrong). */
export function startWebhookReceiver(options: HttpReceiverOptions = {}): Promise<HttpTestReceiver> {
  return startReceiver(webhook(options.secret ?? randomSecret()));
}

/** A Splunk HTTP Event Collector: `Authorization: Splunk <token>`, concatenated JSON events, HEC's answers. */
export function startSplunkHecReceiver(options: HttpReceiverOptions = {}): Promise<HttpTestReceiver> {
  return startReceiver(splunkHec(options.secret ?? randomSecret(), options.ack));
}

/** A Datadog logs intake (v2): DD-API-KEY, gzip or plain JSON array, documented limits, 202. */
export function startDatadogReceiver(options: HttpReceiverOptions = {}): Promise<HttpTestReceiver> {
  return startReceiver(datadog(options.secret ?? randomSecret().slice(0, 32)));
}
