import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, IncomingMessage, Server as HttpServer } from 'node:http';
import { AddressInfo, createServer as createTcpServer, Server as TcpServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { jetstreamManager, JetStreamManager, StorageType } from '@nats-io/jetstream';
import { connect as natsConnect, NatsConnection } from '@nats-io/transport-node';
import { verifyWebhookSignature } from '../../src/streaming';
import type { DestinationFormat, DestinationKind } from '../../src/streaming';

const gunzipAsync = promisify(gunzip);

/** The part of s3rver (no published types) used here; its test typings live under test/, outside the build. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: S3Notification) => void): void;
  httpServer?: HttpServer;
}
interface S3Notification {
  Records: Array<{ eventName: string; s3: { object: { key: string } } }>;
}
type S3rverConstructor = new (options: {
  port: number;
  address: string;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverConstructor;

/** What a destination of a receiver is created with (the admin API's POST body fields). */
export interface BenchTarget {
  kind: DestinationKind;
  format: DestinationFormat;
  settings: Record<string, unknown>;
  secret: Record<string, string>;
}

/**
 * A local receiver of one destination kind, acknowledging like the real intake, that counts the distinct
 * event ids it got since `reset()` and, when asked, the latency of each first arrival (arrival − occurredAt,
 * both on this machine's clock).
 */
export interface BenchReceiver {
  readonly kind: DestinationKind;
  /** What the receiver is (for the results: a Node stand-in, or a real server). */
  readonly description: string;
  /** Forgets what arrived; the next destination starts a new count (NATS: a new stream). */
  reset(): Promise<void>;
  target(format: DestinationFormat): BenchTarget;
  /** Distinct event ids since reset (NATS: messages stored in the stream, deduped by Nats-Msg-Id). */
  distinct(): Promise<number>;
  /** Events received since reset, duplicates included (null where the receiver cannot tell). */
  total(): number | null;
  /** Latency of each first arrival, ms, when `trackLatency(true)` was set before the events came. */
  latencies(): number[];
  trackLatency(on: boolean): Promise<void>;
  close(): Promise<void>;
}

/** The id and time of a json record (`id`, `occurredAt`) or an OCSF one (`metadata.uid`, `time` in ms). */
function idAndTime(record: unknown): { id: string; occurredAt: number } | null {
  if (!record || typeof record !== 'object') return null;
  const r = record as Record<string, unknown>;
  if (typeof r.id === 'string' && typeof r.occurredAt === 'string')
    return { id: r.id, occurredAt: Date.parse(r.occurredAt) };
  const metadata = r.metadata as Record<string, unknown> | undefined;
  if (metadata && typeof metadata.uid === 'string')
    return { id: metadata.uid, occurredAt: typeof r.time === 'number' ? r.time : Date.parse(String(r.time)) };
  return null;
}

/** Distinct ids and first-arrival latencies, shared by the receivers. */
class Tally {
  private seen = new Set<string>();
  private received = 0;
  private lat: number[] = [];
  tracking = false;

  add(id: string, occurredAt: number, now = Date.now()): void {
    this.received++;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    if (this.tracking) this.lat.push(now - occurredAt);
  }

  addRecord(record: unknown, now = Date.now()): boolean {
    const found = idAndTime(record);
    if (!found) return false;
    this.add(found.id, found.occurredAt, now);
    return true;
  }

  reset(): void {
    this.seen = new Set();
    this.received = 0;
    this.lat = [];
  }

  get distinct(): number {
    return this.seen.size;
  }

  get total(): number {
    return this.received;
  }

  get latencies(): number[] {
    return this.lat;
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: HttpServer | TcpServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: HttpServer | TcpServer): Promise<void> {
  if (server instanceof HttpServer) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

type HttpKind = 'webhook' | 'splunk-hec' | 'datadog';

/**
 * An HTTP intake, as the real one answers: webhook (HMAC signature checked, 200), Splunk HEC
 * (`Authorization: Splunk <token>`, newline-separated event objects, 200 `{"text":"Success","code":0}`),
 * Datadog logs v2 (`DD-API-KEY`, gzip JSON array, 202). Every body is parsed and every event's id counted.
 */
export async function startHttpReceiver(kind: HttpKind): Promise<BenchReceiver> {
  const tally = new Tally();
  const secret = randomBytes(24).toString('hex');
  const token = randomBytes(16).toString('hex');
  let refused = 0;
  const server = createHttpServer((request, response) => {
    void readBody(request)
      .then(async (raw) => {
        const now = Date.now();
        const answer = (status: number, body: string) => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end(body);
        };
        if (kind === 'webhook') {
          const ok = verifyWebhookSignature(
            secret,
            {
              signature: request.headers['x-audit-signature'] as string | undefined,
              timestamp: request.headers['x-audit-timestamp'] as string | undefined,
            },
            raw,
          );
          if (!ok) return (refused++, answer(401, '{"error":"bad signature"}'));
          const body = JSON.parse(raw.toString('utf8')) as { events: unknown[] };
          for (const event of body.events) tally.addRecord(event, now);
          return answer(200, '{"ok":true}');
        }
        if (kind === 'splunk-hec') {
          if (request.headers.authorization !== `Splunk ${token}`)
            return (refused++, answer(401, '{"text":"Invalid authorization","code":3}'));
          for (const line of raw.toString('utf8').split('\n'))
            if (line) tally.addRecord((JSON.parse(line) as { event: unknown }).event, now);
          return answer(200, '{"text":"Success","code":0}');
        }
        if (request.headers['dd-api-key'] !== token)
          return (refused++, answer(403, '{"errors":["Forbidden"]}'));
        const json = request.headers['content-encoding'] === 'gzip' ? await gunzipAsync(raw) : raw;
        for (const log of JSON.parse(json.toString('utf8')) as Array<{ audit: unknown }>)
          tally.addRecord(log.audit, now);
        return answer(202, '{}');
      })
      .catch((error: Error) => {
        refused++;
        response.writeHead(400).end(error.message);
      });
  });
  server.keepAliveTimeout = 30_000;
  const port = await listen(server);
  const base = `http://127.0.0.1:${port}`;
  return {
    kind,
    description: `local Node HTTP receiver (${kind === 'webhook' ? 'HMAC checked, 200' : kind === 'splunk-hec' ? 'HEC answer, 200' : 'gunzip, 202'})`,
    reset: async () => tally.reset(),
    target: (format): BenchTarget => {
      if (kind === 'webhook')
        return { kind, format, settings: { url: `${base}/webhook` }, secret: { secret } };
      if (kind === 'splunk-hec') return { kind, format, settings: { url: base }, secret: { token } };
      return { kind, format, settings: { url: `${base}/api/v2/logs` }, secret: { apiKey: token } };
    },
    distinct: async () => {
      if (refused) throw new Error(`${kind} receiver refused ${refused} requests`);
      return tally.distinct;
    },
    total: () => tally.total,
    latencies: () => tally.latencies,
    trackLatency: async (on) => void (tally.tracking = on),
    close: () => closeServer(server),
  };
}

/**
 * A syslog collector over TCP: RFC 6587 octet-counted frames (`<length> <RFC 5424 message>`), the event id
 * read from the structured data (`[audit@N id="..."]`) and the time from the message's JSON; it closes its
 * side when the sender half-closes (what the sink waits for as its acknowledgement), as rsyslog does.
 */
export async function startSyslogReceiver(): Promise<BenchReceiver> {
  const tally = new Tally();
  let malformed = 0;
  const server = createTcpServer((socket: Socket) => {
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const now = Date.now();
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space < 0) break;
        const length = Number(buffer.subarray(0, space).toString('latin1'));
        if (!Number.isInteger(length) || length <= 0) {
          malformed++;
          socket.destroy();
          return;
        }
        if (buffer.length < space + 1 + length) break;
        const message = buffer.subarray(space + 1, space + 1 + length).toString('utf8');
        buffer = buffer.subarray(space + 1 + length);
        const id = / id="([^"]+)"/.exec(message)?.[1];
        const json = message.indexOf('{');
        if (!id || json < 0) {
          malformed++;
          continue;
        }
        const found = idAndTime(JSON.parse(message.slice(json)));
        tally.add(id, found?.occurredAt ?? NaN, now);
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  return {
    kind: 'syslog',
    description: 'local Node TCP receiver (RFC 6587 octet counting, closes on EOF)',
    reset: async () => tally.reset(),
    target: (format) => ({ kind: 'syslog', format, settings: { host: '127.0.0.1', port }, secret: {} }),
    distinct: async () => {
      if (malformed) throw new Error(`syslog receiver: ${malformed} malformed frames`);
      return tally.distinct;
    },
    total: () => tally.total,
    latencies: () => tally.latencies,
    trackLatency: async (on) => void (tally.tracking = on),
    close: () => closeServer(server),
  };
}

/**
 * The machine's nats-server (JetStream): each reset creates a stream of its own (file storage, JetStream's
 * default) on a unique subject prefix and deletes the previous one, so the duplicate window of a stream
 * never hides a rep's events. distinct() is the stream's stored message count; with latency tracking, an
 * ordered consumer in this process timestamps each message when it reads it back from the stream.
 */
export async function startNatsReceiver(url: string): Promise<BenchReceiver> {
  const nc: NatsConnection = await natsConnect({ servers: url, maxReconnectAttempts: 5 });
  const jsm: JetStreamManager = await jetstreamManager(nc, { timeout: 10_000 });
  const tally = new Tally();
  let stream = '';
  let prefix = '';
  let stopConsumer: (() => void) | null = null;
  const drop = async () => {
    stopConsumer?.();
    stopConsumer = null;
    if (stream) await jsm.streams.delete(stream).catch(() => undefined);
    stream = '';
  };
  return {
    kind: 'nats',
    description: `the machine's nats-server (${url}), JetStream file storage, a stream per rep`,
    reset: async () => {
      await drop();
      tally.reset();
      const unique = randomBytes(5).toString('hex');
      stream = `AUDIT_BENCH_${unique}`;
      prefix = `auditbench.${unique}`;
      await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], storage: StorageType.File });
    },
    target: (format) => ({
      kind: 'nats',
      format,
      settings: { servers: [url], subjectPrefix: prefix, stream },
      secret: {},
    }),
    distinct: async () => (await jsm.streams.info(stream)).state.messages,
    total: () => null,
    latencies: () => tally.latencies,
    trackLatency: async (on) => {
      tally.tracking = on;
      if (!on || stopConsumer) return;
      const consumer = await jsm.jetstream().consumers.get(stream);
      const messages = await consumer.consume();
      stopConsumer = () => void messages.stop();
      void (async () => {
        for await (const message of messages) tally.addRecord(message.json(), Date.now());
      })().catch(() => undefined);
    },
    close: async () => {
      await drop();
      await nc.close();
    },
  };
}

/**
 * s3rver (the S3 API over a temp directory) in this process, on a free port. Each PUT it reports (its
 * `event` notification, emitted once the object is stored) is read from its directory, gunzipped and
 * parsed, and its events counted; a reset moves to a new key prefix.
 */
export async function startS3Receiver(): Promise<BenchReceiver> {
  const directory = mkdtempSync(join(tmpdir(), 'audit-bench-s3-'));
  const bucket = 'audit-bench';
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const tally = new Tally();
  let prefix = '';
  let pendingReads = 0;
  let failed = 0;
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  server.on('event', (event) => {
    const record = event.Records[0];
    if (record.eventName !== 'ObjectCreated:Put' || !record.s3.object.key.startsWith(`${prefix}/`)) return;
    const now = Date.now();
    const parts = record.s3.object.key.split('/');
    const file = join(directory, bucket, ...parts.slice(0, -1), `${parts[parts.length - 1]}._S3rver_object`);
    pendingReads++;
    void readFile(file)
      .then(async (bytes) => {
        const text = (record.s3.object.key.endsWith('.gz') ? await gunzipAsync(bytes) : bytes).toString(
          'utf8',
        );
        for (const line of text.split('\n')) if (line) tally.addRecord(JSON.parse(line), now);
      })
      .catch(() => failed++)
      .finally(() => pendingReads--);
  });
  return {
    kind: 's3',
    description: 's3rver 3 in the bench process (temp directory), objects read back from its store',
    reset: async () => {
      tally.reset();
      prefix = `bench/${randomBytes(5).toString('hex')}`;
    },
    target: (format) => ({
      kind: 's3',
      format,
      settings: {
        bucket,
        prefix,
        endpoint: `http://127.0.0.1:${port}`,
        forcePathStyle: true,
        region: 'us-east-1',
      },
      secret: { ...credentials },
    }),
    distinct: async () => {
      if (failed) throw new Error(`s3 receiver: ${failed} objects could not be read back`);
      return tally.distinct;
    },
    total: () => tally.total,
    latencies: () => tally.latencies,
    trackLatency: async (on) => void (tally.tracking = on),
    close: async () => {
      while (pendingReads > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const closed = server.close();
      server.httpServer?.closeAllConnections();
      await closed;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
