import { createHash } from 'node:crypto';
import type { JetStreamClient, JetStreamPublishOptions } from '@nats-io/jetstream';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
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

/** The NATS client and JetStream API are optional peers: loaded when a `nats` destination runs. */
const NATS_REASON = 'a NATS JetStream audit destination (kind: "nats")';
const transport = () =>
  loadOptionalPackage<typeof import('@nats-io/transport-node')>('@nats-io/transport-node', NATS_REASON);
const jetstreamApi = () =>
  loadOptionalPackage<typeof import('@nats-io/jetstream')>('@nats-io/jetstream', NATS_REASON);

export const DEFAULT_SUBJECT_PREFIX = 'audit';
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BATCH_EVENTS = 500;
/** Encoded tokens longer than this are replaced by a hash: the server's control line is bounded (4 KiB). */
const MAX_TOKEN_LENGTH = 128;
/** How long close() waits for in-flight acks before dropping the connection. */
const DRAIN_TIMEOUT_MS = 5_000;

/**
 * One subject token from any string, reversibly: `[A-Za-z0-9_-]` are kept, every other UTF-8 byte is `%XX`
 * (so `.`, `*`, `>`, whitespace and `%` never appear raw); the empty string (no organization, no resource
 * type) is a lone `%`, which no non-empty encoding can be. An encoding longer than 128 characters is
 * `%%` + the first 32 hex digits of its SHA-256 instead (distinct, not reversible).
 */
export function subjectToken(value: string | null | undefined): string {
  if (!value) return '%';
  let token = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    token += /[A-Za-z0-9_-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (token.length <= MAX_TOKEN_LENGTH) return token;
  return `%%${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 32)}`;
}

/** The string a subjectToken() came from; null for a hashed (over-long) token. */
export function decodeSubjectToken(token: string): string | null {
  if (token === '%') return '';
  if (token.startsWith('%%')) return null;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '%') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `<prefix>.<organization token>.<resource type token>`: a consumer filters with `<prefix>.<org>.>`. */
export function natsSubject(prefix: string, event: FormattedEvent): string {
  const { orgKey, event: view } = event.source;
  return `${prefix}.${subjectToken(orgKey)}.${subjectToken(view.resourceType)}`;
}

/** A subject (no wildcards): dot-separated non-empty tokens without whitespace, `*` or `>`. */
export function isValidSubject(subject: string): boolean {
  return subject.split('.').every((token) => token.length > 0 && !/[\s*>]/.test(token));
}

interface NatsSettings {
  servers: string[];
  subjectPrefix: string;
  stream?: string;
  tls?: boolean | { caFile?: string; certFile?: string; keyFile?: string; ca?: string };
  timeoutMs: number;
}

function settingsOf(raw: Record<string, unknown>): NatsSettings {
  return {
    servers: typeof raw.servers === 'string' ? [raw.servers] : (raw.servers as string[]),
    subjectPrefix: (raw.subjectPrefix as string | undefined) ?? DEFAULT_SUBJECT_PREFIX,
    stream: raw.stream as string | undefined,
    tls: raw.tls as NatsSettings['tls'],
    timeoutMs: Number(raw.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  };
}

interface Connected {
  nc: NatsConnection;
  js: JetStreamClient;
}

/**
 * Publishes each event to JetStream on `<prefix>.<org>.<resourceType>` with `Nats-Msg-Id: <event id>`, so
 * the stream's duplicate window drops a redelivered event, and waits for every PubAck (a `duplicate` ack
 * counts as delivered). Within an organization, events are published one after the other, each after the
 * previous one's ack: a pipelined publish could leave a later event stored before an earlier one that
 * failed (a lost write before a reconnect, a leader change) and break the chain order when the batch is
 * sent again. Organizations go in parallel. One connection per sink, reconnecting forever; a send waits at
 * most `timeoutMs` per ack, then fails with `retry`.
 */
class NatsSink implements AuditSink {
  readonly maxBatchEvents: number;
  private readonly settings: NatsSettings;
  private connecting: Promise<Connected> | null = null;
  private closed = false;

  constructor(private readonly spec: DestinationSpec) {
    this.settings = settingsOf(spec.settings);
    this.maxBatchEvents = Number(spec.settings.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS);
    transport(); // both packages, checked when the destination starts rather than at the first send
    jetstreamApi();
  }

  /** Hosts and ports only: servers settings never carry credentials (validate refuses them). */
  private get where(): string {
    return `NATS ${this.settings.servers.map(hostPort).join(', ')}`;
  }

  async send(batch: OutboundBatch): Promise<void> {
    if (this.closed) throw new DeliveryError(`${this.where}: the sink is closed`, 'retry');
    const { js } = await this.connection();
    const byOrg = new Map<string, FormattedEvent[]>();
    for (const event of batch.events) {
      const list = byOrg.get(event.source.orgKey);
      if (list) list.push(event);
      else byOrg.set(event.source.orgKey, [event]);
    }
    const results = await Promise.allSettled(
      [...byOrg.values()].map((events) => this.publishInOrder(js, events)),
    );
    const failures = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as DeliveryError);
    if (failures.length === 0) return;
    // The failure that asks most of the streamer wins: pause, then retry (the receiver must be up to bisect).
    const rank: Record<DeliveryFailure, number> = { pause: 0, retry: 1, reject: 2 };
    failures.sort((a, b) => rank[a.failure] - rank[b.failure]);
    throw failures[0];
  }

  private async publishInOrder(js: JetStreamClient, events: FormattedEvent[]): Promise<void> {
    const encoder = new TextEncoder();
    for (const event of events) {
      const subject = natsSubject(this.settings.subjectPrefix, event);
      const options: Partial<JetStreamPublishOptions> = {
        msgID: event.source.event.id,
        timeout: this.settings.timeoutMs,
      };
      // With a named stream, the server refuses a subject that lands in another stream.
      if (this.settings.stream) options.expect = { streamName: this.settings.stream };
      try {
        await js.publish(subject, encoder.encode(event.text), options);
      } catch (error) {
        throw this.publishError(error, subject);
      }
    }
  }

  private publishError(error: unknown, subject: string): DeliveryError {
    const { errors } = transport();
    const { JetStreamApiError } = jetstreamApi();
    if (error instanceof DeliveryError) return error;
    // No responders to the publish (the package does not export this error class: matched by name).
    if ((error as Error).name === 'JetStreamNotEnabled')
      return new DeliveryError(
        `${this.where}: no JetStream stream captures subject ${subject} (nothing answered the publish; create a stream whose subjects include ${this.settings.subjectPrefix}.>)`,
        'pause',
        { cause: error },
      );
    if (error instanceof errors.TimeoutError)
      return new DeliveryError(`${this.where}: no PubAck within ${this.settings.timeoutMs} ms`, 'retry', {
        cause: error,
      });
    if (error instanceof errors.InvalidArgumentError && /max_payload/.test(error.message))
      return new DeliveryError(`${this.where}: an event exceeds the server's max_payload`, 'reject', {
        cause: error,
      });
    if (error instanceof errors.PermissionViolationError || error instanceof errors.AuthorizationError)
      return new DeliveryError(`${this.where}: not allowed to publish to ${subject}`, 'pause', {
        cause: error,
      });
    if (error instanceof JetStreamApiError) {
      const failure: DeliveryFailure =
        error.code === 10054 // message size exceeds the stream's maximum
          ? 'reject'
          : error.status >= 500 // store limits reached, JetStream temporarily unavailable
            ? 'retry'
            : 'pause'; // e.g. the subject is captured by another stream than settings.stream
      return new DeliveryError(`${this.where}: JetStream refused ${subject}: ${error.message}`, failure, {
        cause: error,
      });
    }
    return new DeliveryError(`${this.where}: publish failed (${(error as Error).name})`, 'retry', {
      cause: error,
    });
  }

  private connection(): Promise<Connected> {
    if (!this.connecting) {
      const attempt = this.connect();
      this.connecting = attempt;
      attempt.then(
        ({ nc }) =>
          // Closed for good (auth refused twice, drained): the next send connects again.
          void nc.closed().then(() => {
            if (this.connecting === attempt) this.connecting = null;
          }),
        () => {
          if (this.connecting === attempt) this.connecting = null;
        },
      );
    }
    return this.connecting;
  }

  private async connect(): Promise<Connected> {
    const { connect, errors } = transport();
    const { jetstream, jetstreamManager, JetStreamApiError, JetStreamApiCodes } = jetstreamApi();
    let nc: NatsConnection;
    try {
      nc = await connect(this.connectionOptions());
    } catch (error) {
      if (
        error instanceof errors.AuthorizationError ||
        error instanceof errors.UserAuthenticationExpiredError
      )
        throw new DeliveryError(`${this.where} refused the credentials (${error.message})`, 'pause', {
          cause: error,
        });
      const code = (error as { cause?: { code?: string } }).cause?.code;
      throw new DeliveryError(
        `${this.where}: cannot connect (${code ?? (error as Error).message})`,
        'retry',
        {
          cause: error,
        },
      );
    }
    if (this.settings.stream) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: this.settings.timeoutMs });
        await jsm.streams.info(this.settings.stream);
      } catch (error) {
        await nc.close().catch(() => undefined);
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)
          throw new DeliveryError(
            `${this.where}: no JetStream stream named ${this.settings.stream}`,
            'pause',
            {
              cause: error,
            },
          );
        throw new DeliveryError(`${this.where}: cannot check stream ${this.settings.stream}`, 'retry', {
          cause: error,
        });
      }
    }
    return { nc, js: jetstream(nc, { timeout: this.settings.timeoutMs }) };
  }

  private connectionOptions(): NodeConnectionOptions {
    const { credsAuthenticator } = transport();
    const { secret } = this.spec;
    const { tls } = this.settings;
    // The client ignores a URL's scheme: a tls:// server asks for TLS here.
    const tlsScheme = this.settings.servers.some((server) => server.startsWith('tls://'));
    const usesTls = (tls !== undefined && tls !== false) || tlsScheme;
    const options: NodeConnectionOptions = {
      servers: this.settings.servers,
      name: `nest-audit-trail ${this.spec.name}`,
      timeout: this.settings.timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      // Kept as bytes while reconnecting: a send times out anyway, and an ack arriving late is harmless.
      noAsyncTraces: true,
    };
    if (usesTls) options.tls = typeof tls === 'object' ? { ...tls } : {};
    if (secret.token) options.token = secret.token;
    else if (secret.user) Object.assign(options, { user: secret.user, pass: secret.password });
    else if (secret.creds) options.authenticator = credsAuthenticator(new TextEncoder().encode(secret.creds));
    return options;
  }

  async close(): Promise<void> {
    this.closed = true;
    const connecting = this.connecting;
    this.connecting = null;
    if (!connecting) return;
    const connected = await connecting.catch(() => null);
    if (!connected || connected.nc.isClosed()) return;
    const drained = connected.nc.drain().catch(() => undefined);
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(resolve, DRAIN_TIMEOUT_MS, 'timeout').unref(),
    );
    if ((await Promise.race([drained, timeout])) === 'timeout')
      await connected.nc.close().catch(() => undefined);
  }
}

function hostPort(server: string): string {
  try {
    const url = new URL(server.includes('://') ? server : `nats://${server}`);
    return url.port ? `${url.hostname}:${url.port}` : `${url.hostname}:4222`;
  } catch {
    return '(invalid server)';
  }
}

function isPositiveInt(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= max;
}

function serverProblem(field: string, value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return `${field} must be a nats:// or tls:// URL`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} must be a nats:// or tls:// URL`;
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') return `${field} must be a nats:// or tls:// URL`;
  if (url.username || url.password) return `${field} must not carry credentials (use the secret)`;
  if (!url.hostname) return `${field} must name a host`;
  return null;
}

export const natsKind: SinkKind = {
  kind: 'nats',
  formats: ['json', 'ocsf'],
  validate(settings, secret) {
    const problems: string[] = [];
    const servers = typeof settings.servers === 'string' ? [settings.servers] : settings.servers;
    if (!Array.isArray(servers) || servers.length === 0)
      problems.push('settings.servers is required (nats:// URLs, e.g. ["nats://nats.internal:4222"])');
    else
      servers.forEach((server, i) => {
        const problem = serverProblem(`settings.servers[${i}]`, server);
        if (problem) problems.push(problem);
      });
    const prefix = settings.subjectPrefix;
    if (
      prefix !== undefined &&
      (typeof prefix !== 'string' || prefix.length === 0 || !isValidSubject(prefix))
    )
      problems.push(
        'settings.subjectPrefix must be a NATS subject: dot-separated tokens without spaces, * or >',
      );
    const stream = settings.stream;
    if (stream !== undefined && (typeof stream !== 'string' || !/^[^\s.*>/\\]{1,255}$/.test(stream)))
      problems.push('settings.stream must be a JetStream stream name (no spaces, ., *, >, / or \\)');
    const tls = settings.tls;
    if (tls !== undefined && typeof tls !== 'boolean') {
      if (!tls || typeof tls !== 'object' || Array.isArray(tls))
        problems.push('settings.tls must be true or an object { caFile, certFile, keyFile, ca }');
      else
        for (const [key, value] of Object.entries(tls))
          if (!['caFile', 'certFile', 'keyFile', 'ca'].includes(key) || typeof value !== 'string')
            problems.push(
              `settings.tls.${key} is not a TLS setting (caFile, certFile, keyFile, ca: strings)`,
            );
    }
    if (settings.timeoutMs !== undefined && !isPositiveInt(settings.timeoutMs, 120_000))
      problems.push('settings.timeoutMs must be an integer from 1 to 120000');
    if (settings.maxBatchEvents !== undefined && !isPositiveInt(settings.maxBatchEvents, 10_000))
      problems.push('settings.maxBatchEvents must be an integer from 1 to 10000');
    const methods = ['token', 'user', 'creds'].filter((key) => secret[key] !== undefined);
    if (methods.length > 1)
      problems.push(`secret: use one of token, user/password or creds (got ${methods.join(', ')})`);
    for (const key of ['token', 'user', 'password', 'creds'])
      if (secret[key] !== undefined && (typeof secret[key] !== 'string' || secret[key].length === 0))
        problems.push(`secret.${key} must be a non-empty string`);
    if (secret.user !== undefined && secret.password === undefined)
      problems.push('secret.password is required with secret.user');
    if (secret.password !== undefined && secret.user === undefined)
      problems.push('secret.user is required with secret.password');
    return problems;
  },
  hosts(settings) {
    const servers = typeof settings.servers === 'string' ? [settings.servers] : settings.servers;
    if (!Array.isArray(servers)) return [];
    return servers.flatMap((server) => {
      try {
        return typeof server === 'string' ? [new URL(server).hostname] : [];
      } catch {
        return [];
      }
    });
  },
  create: (spec) => new NatsSink(spec),
};
