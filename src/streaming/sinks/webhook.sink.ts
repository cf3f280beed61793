import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuditSink, DestinationSpec, OutboundBatch, SinkKind } from '../streaming.types';
import { hostOf, postBatch, urlProblem } from './http-delivery';

export const SIGNATURE_HEADER = 'x-audit-signature';
export const TIMESTAMP_HEADER = 'x-audit-timestamp';
export const DELIVERY_HEADER = 'x-audit-delivery';
const MIN_SECRET_LENGTH = 32;

/**
 * The signature of a webhook delivery: `v1=` + hex HMAC-SHA256, keyed with the destination's secret, of
 * `<timestamp>.<raw body>` (timestamp: the `X-Audit-Timestamp` header, Unix seconds). The receiver
 * recomputes it over the bytes it received, compares in constant time, and refuses old timestamps.
 */
export function webhookSignature(secret: string, timestamp: string, body: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/** The receiver's check (README recipe): signature matches and the timestamp is within `toleranceS`. */
export function verifyWebhookSignature(
  secret: string,
  headers: { signature?: string; timestamp?: string },
  body: string | Buffer,
  toleranceS = 300,
  nowS = Math.floor(Date.now() / 1000),
): boolean {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowS - Number(timestamp)) > toleranceS) return false;
  const expected = Buffer.from(webhookSignature(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * A signed webhook: each batch is one POST of `{"deliveryId", "events": [...]}` (JSON), with
 * `X-Audit-Signature`, `X-Audit-Timestamp` and `X-Audit-Delivery` (the same id when the same batch is sent
 * again: receivers dedupe by it or by each event's `id`).
 */
class WebhookSink implements AuditSink {
  /** The destination's batchSize decides below this. */
  readonly maxBatchEvents = 1000;

  constructor(private readonly spec: DestinationSpec) {}

  async send(batch: OutboundBatch): Promise<void> {
    const body = `{"deliveryId":${JSON.stringify(batch.deliveryId)},"events":[${batch.events
      .map((e) => e.text)
      .join(',')}]}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    await postBatch({
      url: String(this.spec.settings.url),
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'nest-audit-trail',
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: webhookSignature(this.spec.secret.secret, timestamp, body),
        [DELIVERY_HEADER]: batch.deliveryId,
      },
    });
  }

  async close(): Promise<void> {}
}

export const webhookKind: SinkKind = {
  kind: 'webhook',
  formats: ['json', 'ocsf'],
  validate(settings, secret) {
    const problems: string[] = [];
    const url = urlProblem('settings.url', settings.url);
    if (url) problems.push(url);
    if (typeof secret.secret !== 'string' || secret.secret.length < MIN_SECRET_LENGTH)
      problems.push(`secret.secret is required: at least ${MIN_SECRET_LENGTH} characters (the HMAC key)`);
    return problems;
  },
  hosts: (settings) => hostOf(settings.url),
  create: (spec) => new WebhookSink(spec),
};
