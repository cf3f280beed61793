import { createHash } from 'node:crypto';
import {
  AuditSink,
  DeliveryError,
  DeliveryFailure,
  DestinationSpec,
  FormattedEvent,
  OutboundBatch,
  SinkKind,
} from '../streaming.types';
import { failureOf, hostOf, origin, retryAfterMs, urlProblem } from './http-delivery';

const EVENT_PATH = '/services/collector/event';
const ACK_PATH = '/services/collector/ack';
const DEFAULT_ACK_TIMEOUT_MS = 60_000;
const TIMEOUT_MS = 15_000;
const DEFAULT_SOURCETYPE = 'nest-audit-trail';
const DEFAULT_MAX_BATCH_EVENTS = 500;
/** HEC's max_content_length was 1 MB before Splunk 8 (800 MB after): a request stays under the smaller. */
const DEFAULT_MAX_BATCH_BYTES = 1_000_000;
const TEXT_SETTINGS = ['index', 'source', 'sourcetype', 'host'] as const;

/**
 * HEC's codes (Splunk docs, "Troubleshoot HTTP Event Collector") by what they mean for delivery. A 400 is
 * not always this content's fault: a wrong index or a channel/ack misconfiguration refuses every batch.
 */
const HEC_CODES: Record<number, DeliveryFailure> = {
  1: 'pause', // token disabled
  2: 'pause', // token is required
  3: 'pause', // invalid authorization
  4: 'pause', // invalid token
  5: 'reject', // no data
  6: 'reject', // invalid data format
  7: 'pause', // incorrect index
  8: 'retry', // internal server error
  9: 'retry', // server is busy
  10: 'pause', // data channel is missing
  11: 'pause', // invalid data channel
  12: 'reject', // event field is required
  13: 'reject', // event field cannot be blank
  14: 'pause', // ACK is disabled
  15: 'reject', // error in handling indexed fields
  16: 'pause', // query string authorization is not enabled
};

/**
 * Splunk HTTP Event Collector: each batch is one POST (or a few, to stay under maxBatchBytes) to
 * `<url>/services/collector/event` of concatenated JSON event objects
 * `{"time", "host", "source", "sourcetype", "index", "event"}`, with `Authorization: Splunk <token>` and a
 * channel stable per destination (`X-Splunk-Request-Channel`, needed when the token has indexer
 * acknowledgement on). HEC answers `{"text":"Success","code":0}`. With `settings.ack`, a batch counts as
 * delivered only once the indexers acknowledged each of its requests (`/services/collector/ack`).
 */
class SplunkHecSink implements AuditSink {
  readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly url: string;
  private readonly ackUrl: string;
  private readonly channel: string;
  /** Wait for indexer acknowledgement (the token must have it on) before a batch counts as delivered. */
  private readonly ack: boolean;
  private readonly ackTimeoutMs: number;

  constructor(private readonly spec: DestinationSpec) {
    this.maxBatchEvents = Number(spec.settings.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS);
    this.maxBatchBytes = Number(spec.settings.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES);
    this.url = hecUrl(String(spec.settings.url), EVENT_PATH);
    this.ackUrl = hecUrl(String(spec.settings.url), ACK_PATH);
    this.channel = channelOf(spec.id);
    this.ack = spec.settings.ack === true;
    this.ackTimeoutMs = Number(spec.settings.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS);
  }

  async send(batch: OutboundBatch): Promise<void> {
    const ackIds: number[] = [];
    const post = async (lines: string[]) => {
      const { ackId } = await this.post(this.url, lines.join('\n'));
      if (this.ack) {
        if (ackId === undefined)
          throw new DeliveryError(
            `POST ${origin(this.url)} gave no ackId: is indexer acknowledgement on for the token?`,
            'pause',
          );
        ackIds.push(ackId);
      }
    };
    let body: string[] = [];
    let bytes = 0;
    for (const event of batch.events) {
      const line = this.envelope(event);
      const size = Buffer.byteLength(line) + 1;
      if (body.length && bytes + size > this.maxBatchBytes) {
        await post(body);
        body = [];
        bytes = 0;
      }
      body.push(line);
      bytes += size;
    }
    if (body.length) await post(body);
    if (ackIds.length) await this.acknowledged(ackIds);
  }

  /**
   * Polls `/services/collector/ack` until the indexers acknowledged every request of the batch. Not in
   * time: `retry` (the batch is sent again; receivers dedupe by event id).
   */
  private async acknowledged(ids: number[]): Promise<void> {
    const deadline = Date.now() + this.ackTimeoutMs;
    let pending = ids;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      const { acks } = await this.post(this.ackUrl, JSON.stringify({ acks: pending }));
      pending = pending.filter((id) => acks?.[String(id)] !== true);
      if (!pending.length) return;
      if (Date.now() + wait > deadline)
        throw new DeliveryError(
          `POST ${origin(this.url)}: ${pending.length} of ${ids.length} requests not acknowledged by the indexers within ${this.ackTimeoutMs} ms`,
          'retry',
        );
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async close(): Promise<void> {}

  /** One HEC event: the record as `event` (already JSON: not parsed again), metadata from the settings. */
  private envelope(event: FormattedEvent): string {
    const { settings } = this.spec;
    const meta: Record<string, unknown> = { time: Date.parse(event.source.event.occurredAt) / 1000 };
    for (const key of TEXT_SETTINGS)
      if (typeof settings[key] === 'string' && settings[key]) meta[key] = settings[key];
    meta.sourcetype ??= DEFAULT_SOURCETYPE;
    const head = JSON.stringify(meta);
    return `${head.slice(0, -1)},"event":${event.record ? event.text : JSON.stringify(event.text)}}`;
  }

  private async post(url: string, body: string): Promise<HecAnswer> {
    const where = origin(url);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Splunk ${this.spec.secret.token}`,
          'content-type': 'application/json',
          'user-agent': 'nest-audit-trail',
          'x-splunk-request-channel': this.channel,
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const name = (error as Error).name;
      const code = (error as { cause?: { code?: string } }).cause?.code;
      const reason = name === 'TimeoutError' ? 'timed out' : `failed${code ? ` (${code})` : ''}`;
      throw new DeliveryError(`POST ${where} ${reason}`, 'retry', { cause: error });
    }
    const answer = await hecAnswer(response);
    if (response.ok && (answer.code === undefined || answer.code === 0)) return answer;
    const failure =
      response.status === 413
        ? 'reject'
        : (HEC_CODES[answer.code ?? -1] ?? failureOf(response.ok ? 400 : response.status));
    const detail = [answer.text, answer.code === undefined ? '' : `code ${answer.code}`, answer.invalidEvent]
      .filter(Boolean)
      .join(', ');
    throw new DeliveryError(
      `POST ${where} answered ${response.status}${detail ? ` (${detail})` : ''}`,
      failure,
      {
        statusCode: response.status,
        retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
      },
    );
  }
}

interface HecAnswer {
  text?: string;
  code?: number;
  invalidEvent?: string;
  ackId?: number;
  acks?: Record<string, unknown>;
}

/** HEC's JSON answer (`text`, `code`, `invalid-event-number`, `ackId`, `acks`); printable text only. */
async function hecAnswer(response: Response): Promise<HecAnswer> {
  try {
    const parsed = JSON.parse((await response.text()).slice(0, 64 * 1024)) as Record<string, unknown>;
    const printable = (value: unknown) =>
      typeof value === 'string' ? value.slice(0, 120).replace(/[^\x20-\x7e]+/g, ' ') : undefined;
    const invalid = parsed['invalid-event-number'];
    return {
      text: printable(parsed.text),
      code: typeof parsed.code === 'number' ? parsed.code : undefined,
      invalidEvent: typeof invalid === 'number' ? `invalid event #${invalid}` : undefined,
      ackId: typeof parsed.ackId === 'number' ? parsed.ackId : undefined,
      acks:
        parsed.acks && typeof parsed.acks === 'object' ? (parsed.acks as Record<string, unknown>) : undefined,
    };
  } catch {
    return {};
  }
}

/** `<base><path>`, whether the setting is the base URL or already ends with /services/collector(/event). */
function hecUrl(base: string, path: string): string {
  const url = new URL(base);
  const prefix = url.pathname.replace(/\/+$/, '').replace(/\/services\/collector(\/event)?$/, '');
  url.pathname = `${prefix}${path}`;
  return url.toString();
}

/** A GUID derived from the destination's id: the same channel across restarts, one per destination. */
function channelOf(destinationId: string): string {
  const hex = createHash('sha256').update(`nest-audit-trail:hec-channel:${destinationId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function positiveInteger(field: string, value: unknown, max: number): string | null {
  if (value === undefined) return null;
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= max
    ? null
    : `${field} must be an integer from 1 to ${max}`;
}

export const splunkHecKind: SinkKind = {
  kind: 'splunk-hec',
  formats: ['json', 'ocsf'],
  validate(settings, secret) {
    const problems: string[] = [];
    const url = urlProblem('settings.url', settings.url);
    if (url) problems.push(url);
    else if (new URL(String(settings.url)).search)
      problems.push('settings.url must not carry a query string');
    for (const key of TEXT_SETTINGS) {
      const value = settings[key];
      if (
        value !== undefined &&
        (typeof value !== 'string' || !/^[\x21-\x7e][\x20-\x7e]{0,199}$/.test(value))
      )
        problems.push(`settings.${key} must be printable text of 1 to 200 characters`);
    }
    if (typeof settings.index === 'string' && !/^[a-z0-9_][a-z0-9_-]*$/.test(settings.index))
      problems.push('settings.index must be a Splunk index name (lowercase letters, digits, _ and -)');
    const events = positiveInteger('settings.maxBatchEvents', settings.maxBatchEvents, 10_000);
    if (events) problems.push(events);
    const bytes = positiveInteger('settings.maxBatchBytes', settings.maxBatchBytes, 800 * 1024 * 1024);
    if (bytes) problems.push(bytes);
    if (settings.ack !== undefined && typeof settings.ack !== 'boolean')
      problems.push('settings.ack must be true or false');
    const ackTimeout = positiveInteger('settings.ackTimeoutMs', settings.ackTimeoutMs, 600_000);
    if (ackTimeout) problems.push(ackTimeout);
    if (typeof secret.token !== 'string' || !/^\S{1,512}$/.test(secret.token))
      problems.push('secret.token is required (the HEC token, no spaces)');
    return problems;
  },
  hosts: (settings) => hostOf(settings.url),
  create: (spec) => new SplunkHecSink(spec),
};
