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
 * acknowledgement on). HEC answers `{"text":"Success","code":0}`.
 */
class SplunkHecSink implements AuditSink {
  readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly url: string;
  private readonly channel: string;

  constructor(private readonly spec: DestinationSpec) {
    this.maxBatchEvents = Number(spec.settings.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS);
    this.maxBatchBytes = Number(spec.settings.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES);
    this.url = eventUrl(String(spec.settings.url));
    this.channel = channelOf(spec.id);
  }

  async send(batch: OutboundBatch): Promise<void> {
    let body: string[] = [];
    let bytes = 0;
    for (const event of batch.events) {
      const line = this.envelope(event);
      const size = Buffer.byteLength(line) + 1;
      if (body.length && bytes + size > this.maxBatchBytes) {
        await this.post(body.join('\n'));
        body = [];
        bytes = 0;
      }
      body.push(line);
      bytes += size;
    }
    if (body.length) await this.post(body.join('\n'));
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

  private async post(body: string): Promise<void> {
    const where = origin(this.url);
    let response: Response;
    try {
      response = await fetch(this.url, {
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
    if (response.ok && (answer.code === undefined || answer.code === 0)) return;
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

/** HEC's JSON answer (`text`, `code`, `invalid-event-number`), read bounded; printable text only. */
async function hecAnswer(
  response: Response,
): Promise<{ text?: string; code?: number; invalidEvent?: string }> {
  try {
    const parsed = JSON.parse((await response.text()).slice(0, 4096)) as Record<string, unknown>;
    const printable = (value: unknown) =>
      typeof value === 'string' ? value.slice(0, 120).replace(/[^\x20-\x7e]+/g, ' ') : undefined;
    const invalid = parsed['invalid-event-number'];
    return {
      text: printable(parsed.text),
      code: typeof parsed.code === 'number' ? parsed.code : undefined,
      invalidEvent: typeof invalid === 'number' ? `invalid event #${invalid}` : undefined,
    };
  } catch {
    return {};
  }
}

/** `<base>/services/collector/event`, whether the setting is the base URL or already ends with the path. */
function eventUrl(base: string): string {
  const url = new URL(base);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/services\/collector(\/event)?$/, '');
  url.pathname = `${path}${EVENT_PATH}`;
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
    if (typeof secret.token !== 'string' || !/^\S{1,512}$/.test(secret.token))
      problems.push('secret.token is required (the HEC token, no spaces)');
    return problems;
  },
  hosts: (settings) => hostOf(settings.url),
  create: (spec) => new SplunkHecSink(spec),
};
