import type { EventView } from '../query';

/** Where a destination delivers. One file per kind under `sinks/` (a new kind is a new file there). */
export const DESTINATION_KINDS = ['webhook', 'syslog', 'splunk-hec', 'datadog', 's3', 'nats'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/**
 * How each event is written: `json` (the admin API's event shape), `ocsf` (Open Cybersecurity Schema
 * Framework, API Activity class; version in formats/ocsf.ts), `cef` (ArcSight CEF, syslog only).
 */
export const DESTINATION_FORMATS = ['json', 'ocsf', 'cef'] as const;
export type DestinationFormat = (typeof DESTINATION_FORMATS)[number];

/** `encrypted`: personal values leave as their tokens (default); `clear`: decrypted (or `[erased]`). */
export type PersonalDataPolicy = 'encrypted' | 'clear';

/** An event on its way out: the trail's view of it, and where it sits in its organization's chain. */
export interface StreamEvent {
  /** The trail's event, as the admin API shows it (personal values per the destination's policy). */
  event: EventView;
  /** The organization's chain key ('' for events without an organization). */
  orgKey: string;
  /** The seal (per-organization sequence number) that covers this event. Ordered per organization. */
  sealSeq: string;
}

/** An event rendered in the destination's format: the JSON object (json, ocsf) and/or its one-line text. */
export interface FormattedEvent {
  source: StreamEvent;
  /** The JSON record (json and ocsf formats); null for text-only formats (cef). */
  record: Record<string, unknown> | null;
  /** The event as one line of text: JSON.stringify(record), or the CEF line. */
  text: string;
}

/**
 * A batch handed to a sink: events in order (per organization, by seal then time), and a delivery id that
 * is the same when the same events are sent again (a retry, or a redelivery after a crash).
 */
export interface OutboundBatch {
  deliveryId: string;
  events: FormattedEvent[];
}

/**
 * A destination's delivery, for one kind. `send` resolves once the receiver has acknowledged the whole
 * batch (HTTP 2xx, a JetStream ack, an S3 PUT, a syslog connection closed by the peer after reading it),
 * and throws a DeliveryError otherwise. Sinks keep no cursor: the streamer does.
 */
export interface AuditSink {
  /** Most events one `send` takes; the streamer splits larger batches, in order. */
  readonly maxBatchEvents: number;
  send(batch: OutboundBatch): Promise<void>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * What the failure of a send means for delivery:
 * - `retry`: the receiver is unavailable or busy (network error, timeout, 408, 429, 5xx): back off and send
 *   the same batch again (after `retryAfterMs` when the receiver said so);
 * - `reject`: the receiver refused this content for good (400, 413, 422...): the streamer splits the batch
 *   to find the events it refuses and dead-letters those alone;
 * - `pause`: the destination cannot work as configured (401/403: credentials; 404: wrong endpoint): the
 *   destination is paused with this message until an operator resumes it.
 */
export type DeliveryFailure = 'retry' | 'reject' | 'pause';

export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly failure: DeliveryFailure,
    readonly options: { statusCode?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'DeliveryError';
  }
}

/** A destination as the streamer runs it: settings validated, secret opened. */
export interface DestinationSpec {
  id: string;
  name: string;
  kind: DestinationKind;
  format: DestinationFormat;
  /** Non-secret settings of the kind (URL, host, bucket...), validated by the kind's `validate`. */
  settings: Record<string, unknown>;
  /** Secret settings of the kind (HMAC secret, token, API key, private key...), never logged or returned. */
  secret: Record<string, string>;
}

/** A kind: its settings' validation and its sink. Each `sinks/<kind>.sink.ts` exports one. */
export interface SinkKind {
  kind: DestinationKind;
  /** Formats this kind can carry (cef only over syslog). */
  formats: readonly DestinationFormat[];
  /** The problems of these settings, each naming its field (`settings.url ...`, `secret.token ...`); [] if fine. */
  validate(settings: Record<string, unknown>, secret: Record<string, string>): string[];
  /** Host names and addresses the sink will connect to (checked against private networks for org admins). */
  hosts(settings: Record<string, unknown>): string[];
  create(spec: DestinationSpec): AuditSink;
}
