import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { loadOptionalPackage } from '../../common/packages/optional-package';
import {
  AuditSink,
  DeliveryError,
  DeliveryFailure,
  DestinationSpec,
  FormattedEvent,
  OutboundBatch,
  SinkKind,
} from '../streaming.types';
import { failureOf, urlProblem } from './http-delivery';

/** The AWS SDK is an optional peer: loaded when an `s3` destination runs. */
const S3_REASON = 'an S3 audit destination (kind: "s3")';
const sdk = () => loadOptionalPackage<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3', S3_REASON);

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BATCH_EVENTS = 1_000;
const DEFAULT_REGION = 'us-east-1';
/** PUTs of one batch in flight at once (one object per organization and hour). */
const PARALLEL_PUTS = 4;
/** Hive's name for a partition without a value: events without an organization. */
export const NO_ORGANIZATION = '__HIVE_DEFAULT_PARTITION__';
/** Chain sequences are zero-padded to 20 digits (any int8) so that keys sort as the chain does. */
const SEQ_DIGITS = 20;

const PAUSE_CODES = new Set([
  'AccessDenied',
  'AccountProblem',
  'AllAccessDisabled',
  'AuthorizationHeaderMalformed', // wrong region
  'ExpiredToken',
  'InvalidAccessKeyId',
  'InvalidBucketName',
  'InvalidToken',
  'NoSuchBucket',
  'PermanentRedirect', // wrong region or endpoint
  'SignatureDoesNotMatch',
]);
const RETRY_CODES = new Set([
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'ServiceUnavailable',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TimeoutError',
]);

/** A Hive partition value: `[A-Za-z0-9_.-]` kept, every other UTF-8 byte `%XX` (`/` and `=` included). */
export function partitionValue(value: string): string {
  if (!value) return NO_ORGANIZATION;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // `.` and `..` alone would read as path segments to some tools.
  return out === '.' || out === '..' ? out.replace(/\./g, '%2E') : out;
}

export interface S3Object {
  key: string;
  events: FormattedEvent[];
}

/**
 * The batch as objects: one per organization and UTC hour of `occurredAt`, events in batch order, keyed
 * `<prefix>/org=<org>/dt=YYYY-MM-DD/hour=HH/<first seq>-<last seq>-<hash>.ndjson[.gz]`. The hash is of the
 * delivery id (the same when the same batch is sent again: the same keys, overwritten) and the partition.
 */
export function s3Objects(prefix: string, batch: OutboundBatch, gzip: boolean): S3Object[] {
  const groups = new Map<string, S3Object>();
  for (const event of batch.events) {
    const at = new Date(event.source.event.occurredAt).toISOString();
    const partition = `org=${partitionValue(event.source.orgKey)}/dt=${at.slice(0, 10)}/hour=${at.slice(11, 13)}`;
    const group = groups.get(partition);
    if (group) group.events.push(event);
    else groups.set(partition, { key: partition, events: [event] });
  }
  const base = prefix.replace(/^\/+|\/+$/g, '');
  return [...groups.values()].map(({ key: partition, events }) => {
    const first = events[0].source.sealSeq.padStart(SEQ_DIGITS, '0');
    const last = events[events.length - 1].source.sealSeq.padStart(SEQ_DIGITS, '0');
    const hash = createHash('sha256').update(`${batch.deliveryId}\n${partition}`).digest('hex').slice(0, 12);
    const name = `${first}-${last}-${hash}.ndjson${gzip ? '.gz' : ''}`;
    return { key: base ? `${base}/${partition}/${name}` : `${partition}/${name}`, events };
  });
}

interface S3Settings {
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  gzip: boolean;
  timeoutMs: number;
}

/**
 * Writes each batch as NDJSON objects (gzip by default) in Hive-style time partitions. An object exists
 * only once its PUT completed; `send` resolves when every object of the batch is written. Keys are
 * deterministic: a batch sent again overwrites its own objects, so a retry adds nothing.
 */
class S3Sink implements AuditSink {
  readonly maxBatchEvents: number;
  private readonly settings: S3Settings;
  private readonly client: S3Client;

  constructor(spec: DestinationSpec) {
    const raw = spec.settings;
    this.settings = {
      bucket: String(raw.bucket),
      prefix: (raw.prefix as string | undefined) ?? '',
      region: (raw.region as string | undefined) ?? DEFAULT_REGION,
      endpoint: raw.endpoint as string | undefined,
      forcePathStyle: raw.forcePathStyle === true,
      gzip: raw.gzip !== false,
      timeoutMs: Number(raw.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    };
    this.maxBatchEvents = Number(raw.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS);
    const { S3Client } = sdk();
    const config: S3ClientConfig = {
      region: this.settings.region,
      endpoint: this.settings.endpoint,
      forcePathStyle: this.settings.forcePathStyle,
      // The streamer retries with its own backoff; one quick retry here rides out a dropped connection.
      maxAttempts: 2,
      // Many S3-compatible stores do not understand the SDK's default flexible checksums (aws-chunked).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    // Otherwise the SDK's default chain (environment, profile, instance or task role).
    if (spec.secret.accessKeyId)
      config.credentials = {
        accessKeyId: spec.secret.accessKeyId,
        secretAccessKey: spec.secret.secretAccessKey,
        sessionToken: spec.secret.sessionToken,
      };
    this.client = new S3Client(config);
  }

  /** Bucket and endpoint (or region): never keys, credentials or contents. */
  private get where(): string {
    const at = this.settings.endpoint ? new URL(this.settings.endpoint).host : this.settings.region;
    return `S3 bucket ${this.settings.bucket} at ${at}`;
  }

  async send(batch: OutboundBatch): Promise<void> {
    const objects = s3Objects(this.settings.prefix, batch, this.settings.gzip);
    const failures: DeliveryError[] = [];
    let next = 0;
    const worker = async () => {
      while (next < objects.length && failures.length === 0) {
        try {
          await this.put(objects[next++]);
        } catch (error) {
          failures.push(error as DeliveryError);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PUTS, objects.length) }, worker));
    if (failures.length === 0) return;
    const rank: Record<DeliveryFailure, number> = { pause: 0, retry: 1, reject: 2 };
    failures.sort((a, b) => rank[a.failure] - rank[b.failure]);
    throw failures[0];
  }

  private async put(object: S3Object): Promise<void> {
    const { PutObjectCommand } = sdk();
    const ndjson = Buffer.from(object.events.map((e) => `${e.text}\n`).join(''), 'utf8');
    // Node's gzip writes no timestamp: the same events make the same bytes.
    const body = this.settings.gzip ? gzipSync(ndjson) : ndjson;
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: object.key,
          Body: body,
          ContentType: 'application/x-ndjson',
          ContentEncoding: this.settings.gzip ? 'gzip' : undefined,
          Metadata: { events: String(object.events.length) },
        }),
        { abortSignal: AbortSignal.timeout(this.settings.timeoutMs) },
      );
    } catch (error) {
      throw this.putError(error);
    }
  }

  private putError(error: unknown): DeliveryError {
    const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = $metadata?.httpStatusCode;
    let failure: DeliveryFailure;
    if (name && PAUSE_CODES.has(name)) failure = 'pause';
    else if ((name && RETRY_CODES.has(name)) || name === 'AbortError' || status === undefined)
      failure = 'retry';
    else if (status >= 300 && status < 400)
      failure = 'pause'; // a redirect: wrong region or endpoint
    else failure = failureOf(status);
    const reason =
      name === 'AbortError' || name === 'TimeoutError'
        ? `timed out after ${this.settings.timeoutMs} ms`
        : status !== undefined
          ? `answered ${status} ${name ?? ''}`.trim()
          : `failed (${networkCode(error) ?? name ?? 'network error'})`;
    return new DeliveryError(`PUT to ${this.where} ${reason}`, failure, { statusCode: status, cause: error });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function networkCode(error: unknown): string | undefined {
  const e = error as { code?: string; cause?: { code?: string }; errors?: { code?: string }[] };
  return e.code ?? e.cause?.code ?? e.errors?.[0]?.code;
}

function isPositiveInt(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= max;
}

export const s3Kind: SinkKind = {
  kind: 's3',
  formats: ['json', 'ocsf'],
  validate(settings, secret) {
    const problems: string[] = [];
    const { bucket, prefix, region, endpoint } = settings;
    // S3's bucket naming rules (lowercase, digits, dots, hyphens; 3-63; starts and ends alphanumeric).
    if (typeof bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      problems.push(
        'settings.bucket is required: an S3 bucket name (3-63 lowercase letters, digits, . or -)',
      );
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > 512 || /[\\\0]/.test(prefix)))
      problems.push('settings.prefix must be a key prefix (at most 512 characters, no backslash)');
    if (region !== undefined && (typeof region !== 'string' || !/^[a-z0-9-]{2,32}$/.test(region)))
      problems.push('settings.region must be an AWS region name (e.g. eu-west-1)');
    if (endpoint !== undefined) {
      const problem = urlProblem('settings.endpoint', endpoint);
      if (problem) problems.push(problem);
    }
    for (const flag of ['forcePathStyle', 'gzip'])
      if (settings[flag] !== undefined && typeof settings[flag] !== 'boolean')
        problems.push(`settings.${flag} must be true or false`);
    if (settings.timeoutMs !== undefined && !isPositiveInt(settings.timeoutMs, 300_000))
      problems.push('settings.timeoutMs must be an integer from 1 to 300000');
    if (settings.maxBatchEvents !== undefined && !isPositiveInt(settings.maxBatchEvents, 100_000))
      problems.push('settings.maxBatchEvents must be an integer from 1 to 100000');
    const hasId = secret.accessKeyId !== undefined;
    const hasKey = secret.secretAccessKey !== undefined;
    if (hasId && !hasKey) problems.push('secret.secretAccessKey is required with secret.accessKeyId');
    if (hasKey && !hasId) problems.push('secret.accessKeyId is required with secret.secretAccessKey');
    for (const key of ['accessKeyId', 'secretAccessKey', 'sessionToken'])
      if (secret[key] !== undefined && (typeof secret[key] !== 'string' || secret[key].length === 0))
        problems.push(`secret.${key} must be a non-empty string`);
    if (secret.sessionToken !== undefined && !hasId)
      problems.push('secret.accessKeyId is required with secret.sessionToken');
    return problems;
  },
  hosts(settings) {
    if (typeof settings.endpoint === 'string')
      try {
        return [new URL(settings.endpoint).hostname];
      } catch {
        return [];
      }
    const region = typeof settings.region === 'string' ? settings.region : DEFAULT_REGION;
    return typeof settings.bucket === 'string' ? [`${settings.bucket}.s3.${region}.amazonaws.com`] : [];
  },
  create: (spec) => new S3Sink(spec),
};
