import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, JetStreamManager, StorageType } from '@nats-io/jetstream';
import { connect, NatsConnection } from '@nats-io/transport-node';
import type { DestinationFormat } from '../../../src/streaming/streaming.types';
import { freePort } from '../process';
import { ReceivedEvent, ReceiverDestination, TestReceiver } from './receiver';

/** The machine's nats-server (JetStream enabled), as on CI. */
export const MACHINE_NATS = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const NATS_SERVER_BIN =
  process.env.NATS_SERVER_BIN ??
  ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(existsSync);

/**
 * A received event from a json record (`id`, `organizationId`, `chainSeq`, `occurredAt`) or an OCSF one
 * (`metadata.uid`, `metadata.tenant_uid`, `metadata.sequence`, `time`: epoch ms or ISO text).
 */
export function receivedFromRecord(record: Record<string, unknown>): ReceivedEvent {
  const metadata = record.metadata as Record<string, unknown> | undefined;
  if (typeof record.id === 'string' && 'chainSeq' in record)
    return {
      id: record.id,
      organizationId: (record.organizationId as string | null) ?? null,
      chainSeq: Number(record.chainSeq),
      occurredAt: String(record.occurredAt),
      raw: record,
    };
  if (metadata && typeof metadata.uid === 'string') {
    const time = record.time;
    return {
      id: metadata.uid,
      organizationId: (metadata.tenant_uid as string | undefined) ?? null,
      chainSeq: Number(metadata.sequence),
      occurredAt: typeof time === 'number' ? new Date(time).toISOString() : String(time),
      raw: record,
    };
  }
  throw new Error(`not a json or ocsf audit record: keys ${Object.keys(record).join(', ')}`);
}

/** A message of the receiver's stream: where it landed and what it carried. */
export interface NatsMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  record: Record<string, unknown>;
}

export interface NatsReceiver extends TestReceiver {
  readonly url: string;
  readonly stream: string;
  readonly subjectPrefix: string;
  /** Every message in the stream, in stream order (JetStream already dropped Msg-Id duplicates in its window). */
  messages(): Promise<NatsMessage[]>;
}

export interface NatsReceiverOptions {
  /**
   * `own` (default): a nats-server process of the receiver's own (token auth, a temp store directory) that
   * stop()/start() kill and restart on the same port and store; `machine`: a stream on the machine's
   * nats-server (MACHINE_NATS), which cannot be stopped.
   */
  server?: 'own' | 'machine';
}

/**
 * A real JetStream receiver: a stream with a unique name capturing `<unique prefix>.>`, file storage,
 * the default duplicate window (2 minutes). received() reads every stored message in stream order (a
 * consumer's view: duplicates within the window were dropped by JetStream, later ones are kept).
 */
export async function startNatsReceiver(options: NatsReceiverOptions = {}): Promise<NatsReceiver> {
  const unique = randomBytes(5).toString('hex');
  const stream = `AUDIT_TEST_${unique}`;
  const subjectPrefix = `audittest.${unique}`;
  const own = options.server !== 'machine';
  const token = own ? randomBytes(16).toString('hex') : undefined;
  let url = MACHINE_NATS;
  let server: OwnServer | null = null;
  if (own) {
    server = await OwnServer.start(token!);
    url = server.url;
  } else await expectAnswering(MACHINE_NATS);

  let nc: NatsConnection | null = null;
  const admin = async (): Promise<JetStreamManager> => {
    if (!nc || nc.isClosed())
      nc = await connect({ servers: url, token, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    return jetstreamManager(nc, { timeout: 5_000 });
  };
  await (
    await admin()
  ).streams.add({
    name: stream,
    subjects: [`${subjectPrefix}.>`],
    storage: own ? StorageType.File : StorageType.Memory,
  });

  const messages = async (): Promise<NatsMessage[]> => {
    const jsm = await admin();
    const { state } = await jsm.streams.info(stream);
    const out: NatsMessage[] = [];
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!message) continue; // deleted
      out.push({
        seq,
        subject: message.subject,
        msgId: message.header?.get('Nats-Msg-Id') || undefined,
        record: JSON.parse(new TextDecoder().decode(message.data)) as Record<string, unknown>,
      });
    }
    return out;
  };

  return {
    name: own ? 'nats (own nats-server)' : `nats (${MACHINE_NATS})`,
    url,
    stream,
    subjectPrefix,
    destination: (format: DestinationFormat = 'json'): ReceiverDestination => ({
      kind: 'nats',
      format,
      settings: { servers: [url], subjectPrefix, stream, timeoutMs: 3_000 },
      secret: token ? { token } : {},
    }),
    messages,
    received: async () => (await messages()).map((m) => receivedFromRecord(m.record)),
    stop: async () => {
      if (!server)
        throw new Error(`cannot stop the machine's nats-server: use startNatsReceiver({ server: 'own' })`);
      await server.stop();
    },
    start: async () => {
      if (!server) return;
      await server.restart();
      // JetStream restores the stream from the store directory: wait until it answers for it.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await (await admin()).streams.info(stream);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    destroy: async () => {
      try {
        if (!server) await (await admin()).streams.delete(stream);
      } finally {
        await (nc as NatsConnection | null)?.close().catch(() => undefined);
        await server?.destroy();
      }
    },
  };
}

/** A nats-server of our own: `-js -sd <dir>` so the stream survives a kill and a restart on the same port. */
class OwnServer {
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly token: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(token: string): Promise<OwnServer> {
    if (!NATS_SERVER_BIN)
      throw new Error(
        'nats-server not found (install it, or set NATS_SERVER_BIN): the NATS receiver runs its own',
      );
    const server = new OwnServer(await freePort(), mkdtempSync(join(tmpdir(), 'nats-receiver-')), token);
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    if (this.child) return;
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir, '--auth', this.token];
    const child = spawn(NATS_SERVER_BIN!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (this.output += chunk));
    child.stderr!.on('data', (chunk) => (this.output += chunk));
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.url))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        this.child = null;
        child.kill('SIGKILL');
        throw new Error(`nats-server did not start on ${this.url}:\n${this.output.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** An outage: the process is killed (no graceful shutdown), the port stops answering. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname, port: Number(port || 4222) });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function expectAnswering(url: string): Promise<void> {
  if (!(await answers(url)))
    throw new Error(
      `The machine's nats-server does not answer at ${url}: start one with JetStream (nats-server -js), or set TEST_NATS_URL`,
    );
}
