import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { AuditSink, DestinationSpec, FormattedEvent, OutboundBatch, SinkKind } from '../streaming.types';
import { hostOf, postBatch, urlProblem } from './http-delivery';

const gzipAsync = promisify(gzip);

/** The intake's documented limits (Datadog API, "Send logs"): per request and per log. */
export const DATADOG_MAX_ENTRIES = 1000;
export const DATADOG_MAX_PAYLOAD_BYTES = 5 * 1024 * 1024;
export const DATADOG_MAX_ENTRY_BYTES = 1024 * 1024;
/** Slack under the limits for the array's brackets and commas, and for the intake's own counting. */
const PAYLOAD_BUDGET = DATADOG_MAX_PAYLOAD_BYTES - 64 * 1024;
const ENTRY_BUDGET = DATADOG_MAX_ENTRY_BYTES - 16 * 1024;
const DEFAULT_SITE = 'datadoghq.com';
const SOURCE = 'nest-audit-trail';
/** Our severities are syslog's: Datadog reads them as the log's status (level). */
const STATUS: Record<string, string> = {
  info: 'info',
  notice: 'notice',
  warning: 'warn',
  critical: 'critical',
};

/**
 * Datadog logs intake (v2): each batch is one POST (more when it would pass 1000 entries or 5 MB) of a JSON
 * array of logs to `https://http-intake.logs.<site>/api/v2/logs`, gzip-compressed, with `DD-API-KEY`.
 * A log: `ddsource`, `ddtags`, `hostname`, `service`, `status` (from our severity), `message` (one line
 * saying what happened) and `audit` (the formatted record, searchable as `@audit.*`). The intake answers
 * 202. An entry over 1 MB has its largest fields replaced by a marker (and `truncated: true`), instead of
 * being cut by Datadog in the middle of its JSON.
 */
class DatadogSink implements AuditSink {
  readonly maxBatchEvents: number;
  private readonly url: string;
  private readonly compress: boolean;
  private readonly hostname: string;
  private readonly service: string;

  constructor(private readonly spec: DestinationSpec) {
    this.maxBatchEvents = Math.min(Number(spec.settings.maxBatchEvents ?? 500), DATADOG_MAX_ENTRIES);
    this.url = intakeUrl(spec.settings);
    this.compress = spec.settings.compress !== false;
    this.hostname = typeof spec.settings.hostname === 'string' ? spec.settings.hostname : hostname();
    this.service = typeof spec.settings.service === 'string' ? spec.settings.service : SOURCE;
  }

  async send(batch: OutboundBatch): Promise<void> {
    let entries: string[] = [];
    let bytes = 2;
    for (const event of batch.events) {
      const entry = this.entry(event);
      const size = Buffer.byteLength(entry) + 1;
      if (entries.length && (entries.length >= DATADOG_MAX_ENTRIES || bytes + size > PAYLOAD_BUDGET)) {
        await this.post(entries);
        entries = [];
        bytes = 2;
      }
      entries.push(entry);
      bytes += size;
    }
    if (entries.length) await this.post(entries);
  }

  async close(): Promise<void> {}

  private async post(entries: string[]): Promise<void> {
    const json = `[${entries.join(',')}]`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'nest-audit-trail',
      'dd-api-key': this.spec.secret.apiKey,
    };
    if (this.compress) headers['content-encoding'] = 'gzip';
    const body = this.compress ? await gzipAsync(json) : json;
    await postBatch({ url: this.url, body, headers });
  }

  private entry(event: FormattedEvent): string {
    const { settings } = this.spec;
    const view = event.source.event;
    const log: Record<string, unknown> = {
      ddsource: SOURCE,
      ddtags: tags(event, settings.tags),
      hostname: this.hostname,
      service: this.service,
      status: STATUS[view.severity] ?? 'info',
      message: event.record ? summary(event) : event.text,
    };
    if (event.record) log.audit = event.record;
    const text = JSON.stringify(log);
    return Buffer.byteLength(text) <= ENTRY_BUDGET ? text : JSON.stringify(truncated(log));
  }
}

/** `<event type> <resource type> <resource id> by <actor> (<status>)`: what a person scanning logs reads. */
function summary({ source: { event } }: FormattedEvent): string {
  const target = [event.resourceType, event.resourceId].filter(Boolean).join(' ');
  const actor = event.actorId ? `${event.actorType} ${event.actorId}` : event.actorType;
  return `${event.eventType}${target ? ` ${target}` : ''} by ${actor} (${event.status})`;
}

/**
 * Datadog tags: `org:`, `action:`, `event_type:`, `outcome:`, and the destination's own. A tag is lowercase
 * letters, digits and `_-:./` (others become `_`), at most 200 characters: a comma in a value cannot add a tag.
 */
function tags({ source: { event } }: FormattedEvent, extra: unknown): string {
  const tag = (value: string) =>
    value
      .toLowerCase()
      .replace(/[^a-z0-9_\-:./]/g, '_')
      .slice(0, 200);
  const list = [
    `org:${event.organizationId ?? 'none'}`,
    `action:${event.action}`,
    `event_type:${event.eventType}`,
    `outcome:${event.status}`,
  ];
  if (Array.isArray(extra)) list.push(...extra.filter((t): t is string => typeof t === 'string'));
  return list.map(tag).join(',');
}

/** The log with the record's largest fields replaced by a marker, until it fits one entry's limit. */
function truncated(log: Record<string, unknown>): Record<string, unknown> {
  const audit = { ...(log.audit as Record<string, unknown>) };
  const sizes = Object.entries(audit)
    .map(([key, value]) => [key, Buffer.byteLength(JSON.stringify(value) ?? '')] as const)
    .sort((a, b) => b[1] - a[1]);
  const out = { ...log, audit, truncated: true };
  for (const [key, size] of sizes) {
    if (Buffer.byteLength(JSON.stringify(out)) <= ENTRY_BUDGET) break;
    audit[key] = `[truncated: ${size} bytes]`;
  }
  return out;
}

function intakeUrl(settings: Record<string, unknown>): string {
  if (typeof settings.url === 'string') return settings.url;
  const site = typeof settings.site === 'string' ? settings.site : DEFAULT_SITE;
  return `https://http-intake.logs.${site}/api/v2/logs`;
}

export const datadogKind: SinkKind = {
  kind: 'datadog',
  formats: ['json', 'ocsf'],
  validate(settings, secret) {
    const problems: string[] = [];
    if (settings.url !== undefined) {
      const url = urlProblem('settings.url', settings.url);
      if (url) problems.push(url);
    }
    if (
      settings.site !== undefined &&
      (typeof settings.site !== 'string' || !/^[a-z0-9]+([.-][a-z0-9]+)*\.[a-z]{2,}$/.test(settings.site))
    )
      problems.push(
        'settings.site must be a Datadog site such as datadoghq.com, datadoghq.eu or us5.datadoghq.com',
      );
    for (const key of ['service', 'hostname'] as const)
      if (
        settings[key] !== undefined &&
        (typeof settings[key] !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(settings[key]))
      )
        problems.push(`settings.${key} must be printable text of 1 to 100 characters, no spaces`);
    if (
      settings.tags !== undefined &&
      !(
        Array.isArray(settings.tags) &&
        settings.tags.every((t) => typeof t === 'string' && /^[a-z][a-z0-9_\-:./]{0,199}$/.test(t))
      )
    )
      problems.push(
        'settings.tags must be a list of Datadog tags (lowercase, starting with a letter; letters, digits, _-:./)',
      );
    if (settings.compress !== undefined && typeof settings.compress !== 'boolean')
      problems.push('settings.compress must be true or false');
    const max = settings.maxBatchEvents;
    if (
      max !== undefined &&
      !(Number.isInteger(max) && (max as number) >= 1 && (max as number) <= DATADOG_MAX_ENTRIES)
    )
      problems.push(`settings.maxBatchEvents must be an integer from 1 to ${DATADOG_MAX_ENTRIES}`);
    if (typeof secret.apiKey !== 'string' || !/^[A-Za-z0-9]{16,64}$/.test(secret.apiKey))
      problems.push('secret.apiKey is required (the Datadog API key: letters and digits)');
    return problems;
  },
  hosts: (settings) =>
    settings.url !== undefined ? hostOf(settings.url) : [new URL(intakeUrl(settings)).hostname],
  create: (spec) => new DatadogSink(spec),
};
