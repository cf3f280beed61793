import { Socket, connect as tcpConnect, isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  AuditSink,
  DeliveryError,
  DestinationSpec,
  FormattedEvent,
  OutboundBatch,
  SinkKind,
} from '../streaming.types';
import { relpExchange } from './syslog-relp';
import { facilityOf, syslogSettingsProblems } from './syslog-settings';

/**
 * Syslog (RFC 5424 messages) over TCP with octet-counting framing (RFC 6587 §3.4.1), over TLS (RFC 5425), or
 * over RELP (`settings.transport: 'relp'`, syslog-relp.ts).
 *
 * Acknowledgement over TCP and TLS: plain syslog has none at the application level, so a batch is confirmed
 * in the strongest way TCP allows: one connection per batch, every frame written, our side half-closed (FIN),
 * and `send` resolves only when the receiver closes its side in turn without a reset. A peer that closes with
 * bytes unread resets the connection, so a clean close proves "the receiver's process read the whole batch"
 * and nothing more. It does not prove the receiver kept it: a receiver that read the batch and then stops
 * before queueing or writing it (rsyslog cancels an input that does not stop within inputs.timeout.shutdown,
 * 1 s by default, and discards what is still queued at queue.timeoutShutdown; a crash or SIGKILL loses its
 * in-memory queue) closes just as cleanly, and the batch is lost while counted as delivered. Plain TCP syslog
 * cannot close that window; rsyslog's own author documents it as not reliable. RELP can: each message is
 * answered `200 OK` by the receiver once it is in its queue, and a batch counts only when every message is.
 * (What the receiver does with its queue afterwards, memory or disk, is its own configuration.)
 *
 * Either way an error, a reset, a missing answer or a timeout is a `retry`, and the same batch is sent again:
 * receivers dedupe by the event id in the structured data (`[audit@<enterprise id> id="..."]`).
 */

export const DEFAULT_FACILITY = 13;
export const DEFAULT_APP_NAME = 'nest-audit-trail';
/** The documentation enterprise number (RFC 5612); organizations with their own IANA number set theirs. */
export const DEFAULT_ENTERPRISE_ID = '32473';
/** Our severities as syslog severities: info 6 Informational, notice 5, warning 4, critical 2. */
export const SYSLOG_SEVERITY: Readonly<Record<string, number>> = {
  info: 6,
  notice: 5,
  warning: 4,
  critical: 2,
};
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_BATCH_EVENTS = 500;
/** RFC 5425 asks receivers to take 2048 octets, and 8192 or more where they can: set rsyslog's maxMessageSize. */
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
const BOM = '\ufeff';

/** The header fields of every message of a destination. */
export interface SyslogHeader {
  facility: number;
  appName: string;
  hostname: string;
  enterpriseId: string;
}

/** PRI: facility × 8 + severity (RFC 5424 §6.2.1). */
export function syslogPri(facility: number, severity: string): number {
  return facility * 8 + (SYSLOG_SEVERITY[severity] ?? SYSLOG_SEVERITY.info);
}

/** An SD-PARAM value: `"`, `\` and `]` escaped with a backslash (RFC 5424 §6.3.3). */
export function escapeSdParam(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field (HOSTNAME, APP-NAME, MSGID): printable US-ASCII only, bounded, `-` when empty. */
export function headerField(value: string | null | undefined, max: number): string {
  const printable = (value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return printable || '-';
}

/** RFC 5424 TIMESTAMP: the event's time (ISO 8601 UTC, at most 6 fraction digits), `-` if unreadable. */
function timestamp(occurredAt: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/.test(occurredAt) ? occurredAt : '-';
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [audit@N id org seq] MSG`; MSG is the
 * formatted event's text, with a UTF-8 BOM first when it is not pure ASCII (RFC 5424 §6.4).
 */
export function syslogMessage(formatted: FormattedEvent, header: SyslogHeader): string {
  const { event, sealSeq } = formatted.source;
  const params: Array<[string, string]> = [['id', event.id]];
  if (event.organizationId !== null && event.organizationId !== undefined)
    params.push(['org', event.organizationId]);
  params.push(['seq', sealSeq]);
  const sd = `[audit@${header.enterpriseId}${params.map(([name, value]) => ` ${name}="${escapeSdParam(value)}"`).join('')}]`;
  const msgId = event.action ? headerField(event.action, 32) : 'audit';
  const text = formatted.text;
  // eslint-disable-next-line no-control-regex
  const msg = /^[\x00-\x7f]*$/.test(text) ? text : `${BOM}${text}`;
  return [
    `<${syslogPri(header.facility, event.severity)}>1`,
    timestamp(event.occurredAt),
    header.hostname,
    header.appName,
    '-',
    msgId,
    sd,
    msg,
  ].join(' ');
}

/** Octet-counting framing (RFC 6587 §3.4.1, RFC 5425 §4.3): `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in bytes. */
export function octetCountedFrame(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}

/** OpenSSL's certificate verification results (Node's error codes) and Node's own host name check. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * What a connection error means. Certificate and TLS set-up problems (our verification of the receiver,
 * the receiver's alert about our client certificate, TLS spoken to a plain port) will not heal by retrying:
 * `pause`, with a message saying what to fix. Refused, reset, unreachable, timed out: the receiver is down or
 * busy, `retry`.
 */
export function syslogFailure(error: unknown, target: string, retryHint = ''): DeliveryError {
  const code = (error as { code?: string }).code ?? '';
  const reason = (error as Error).message ?? String(error);
  if (CERTIFICATE_CODES.has(code))
    return new DeliveryError(
      `syslog ${target}: the receiver's certificate is not trusted (${code}: ${reason}); set settings.ca to the CA that signed it and settings.servername to a name it carries`,
      'pause',
      { cause: error },
    );
  if (
    /^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)/.test(
      code,
    )
  )
    return new DeliveryError(
      `syslog ${target}: the receiver refused our client certificate (${code}); check settings.cert and secret.key`,
      'pause',
      { cause: error },
    );
  if (/^ERR_SSL_/.test(code) || /^ERR_OSSL_/.test(code))
    return new DeliveryError(
      `syslog ${target}: TLS could not be set up (${code}); is the port a TLS listener, and do the TLS settings match it?`,
      'pause',
      { cause: error },
    );
  return new DeliveryError(`syslog ${target} failed (${code || reason})${retryHint}`, 'retry', {
    cause: error,
  });
}

/** A TLS receiver that closed right after the handshake: a refusal of this client, or a receiver stopping. */
class ClosedAfterHandshake extends DeliveryError {}

/**
 * A syslog destination: each `send` opens a connection, writes the batch's frames, half-closes, and waits
 * for the receiver to close (the acknowledgement described at the top of this file).
 */
class SyslogSink implements AuditSink {
  readonly maxBatchEvents: number;
  private readonly header: SyslogHeader;
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;
  private readonly relp: boolean;
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly spec: DestinationSpec) {
    const s = spec.settings;
    this.tls = s.tls === true;
    this.relp = s.transport === 'relp';
    this.host = String(s.host);
    this.port = s.port === undefined ? (this.relp ? 2514 : this.tls ? 6514 : 514) : Number(s.port);
    this.timeoutMs = s.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : Number(s.timeoutMs);
    this.maxBatchEvents =
      s.maxBatchEvents === undefined ? DEFAULT_MAX_BATCH_EVENTS : Number(s.maxBatchEvents);
    this.maxMessageBytes =
      s.maxMessageBytes === undefined ? DEFAULT_MAX_MESSAGE_BYTES : Number(s.maxMessageBytes);
    this.header = {
      facility: facilityOf(s.facility) ?? DEFAULT_FACILITY,
      appName: headerField(typeof s.appName === 'string' ? s.appName : DEFAULT_APP_NAME, 48),
      hostname: headerField(typeof s.hostname === 'string' ? s.hostname : osHostname(), 255),
      enterpriseId: s.enterpriseId === undefined ? DEFAULT_ENTERPRISE_ID : String(s.enterpriseId),
    };
  }

  /**
   * A receiver that wants a client certificate and gets none (rsyslog's x509 modes) drops the connection
   * after the handshake. Seen before the batch is written, that is a `pause`; seen later (a reset while
   * writing) it looks like an outage and is retried, so the message says what else it may be.
   */
  private get clientCertificateHint(): string {
    return this.tls && typeof this.spec.settings.cert !== 'string'
      ? '; if the receiver requires a client certificate, set settings.cert and secret.key'
      : '';
  }

  private get target(): string {
    return `${this.relp ? 'relp' : this.tls ? 'tls' : 'tcp'}://${this.host}:${this.port}`;
  }

  async send(batch: OutboundBatch): Promise<void> {
    if (batch.events.length === 0) return;
    const frames: Buffer[] = [];
    for (const event of batch.events) {
      const message = syslogMessage(event, this.header);
      // RELP frames carry the message as is; plain syslog needs octet counting.
      const frame = this.relp ? Buffer.from(message, 'utf8') : octetCountedFrame(message);
      // A receiver cuts (rsyslog) or drops a message past its limit: refuse it here, where the streamer can
      // set that one event aside, rather than deliver it cut.
      if (frame.length > this.maxMessageBytes)
        throw new DeliveryError(
          `syslog ${this.target}: event ${event.source.event.id} is ${frame.length} bytes as a syslog message, over settings.maxMessageBytes (${this.maxMessageBytes})`,
          'reject',
        );
      frames.push(frame);
    }
    if (this.relp) return this.relpSession(frames);
    const payload = Buffer.concat(frames);
    try {
      await this.exchange(payload);
    } catch (error) {
      // A receiver shutting down (an outage) closes like one refusing the client. A refusal repeats on a new
      // connection; an outage refuses it or breaks it during the handshake: retried, not paused.
      if (!(error instanceof ClosedAfterHandshake)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
      await this.exchange(payload);
    }
  }

  /** One RELP session: every message acknowledged by the receiver once it has queued it (syslog-relp.ts). */
  private async relpSession(messages: Buffer[]): Promise<void> {
    let socket: Socket;
    try {
      socket = this.connect();
    } catch (error) {
      throw syslogFailure(error, this.target);
    }
    this.sockets.add(socket);
    try {
      await relpExchange(
        socket,
        messages,
        { target: this.target, timeoutMs: this.timeoutMs, connectEvent: 'connect' },
        (error) => syslogFailure(error, this.target),
      );
    } finally {
      this.sockets.delete(socket);
    }
  }

  /** One connection: write everything, half-close, resolve when the peer has closed cleanly after it. */
  private exchange(payload: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const startedAt = Date.now();
      let socket: Socket;
      try {
        socket = this.connect();
      } catch (error) {
        // Unusable TLS material (validate() should have caught it): a configuration problem.
        reject(syslogFailure(error, this.target));
        return;
      }
      this.sockets.add(socket);
      let phase = 'while connecting';
      let secured = false;
      let writing = false;
      let written = false;
      let peerClosed = false;
      let settled = false;
      let admission: NodeJS.Timeout | undefined;
      const settle = (error?: DeliveryError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(admission);
        this.sockets.delete(socket);
        if (error) {
          socket.destroy();
          reject(error);
        } else resolve();
      };
      const timer = setTimeout(
        () =>
          settle(
            new DeliveryError(
              `syslog ${this.target}: timed out after ${this.timeoutMs} ms ${phase}`,
              'retry',
            ),
          ),
        this.timeoutMs,
      );
      const write = () => {
        if (settled || peerClosed) return;
        phase = 'waiting for the receiver to close after reading the batch';
        writing = true;
        socket.end(payload, () => {
          written = true;
        });
      };
      if (this.tls) socket.once('connect', () => (phase = 'during the TLS handshake'));
      socket.once(this.tls ? 'secureConnect' : 'connect', () => {
        if (!this.tls) return write();
        secured = true;
        // A TLS receiver checks the client after the handshake (rsyslog's x509 modes) and, refusing it, closes
        // at once: possibly after reading our first bytes, which would make that close look like a delivery.
        // So the batch waits as long again as the handshake took (at least one round trip) for that refusal.
        phase = 'waiting for the receiver to accept this TLS client';
        admission = setTimeout(write, Math.min(1000, 10 + (Date.now() - startedAt)));
      });
      socket.on('data', () => undefined); // syslog receivers send nothing; read (and drop) anything so 'end' comes
      socket.on('end', () => {
        peerClosed = true;
        if (written) return;
        if (secured && !writing)
          settle(
            new ClosedAfterHandshake(
              `syslog ${this.target}: the receiver closed the connection right after the TLS handshake, before reading anything: it refuses this client (no client certificate, or one it does not trust: settings.cert and secret.key)`,
              'pause',
            ),
          );
        else
          settle(
            new DeliveryError(
              `syslog ${this.target}: the receiver closed the connection before the batch was written${this.clientCertificateHint}`,
              'retry',
            ),
          );
      });
      socket.on('error', (error) => settle(syslogFailure(error, this.target, this.clientCertificateHint)));
      socket.on('close', (hadError) => {
        if (peerClosed && written && !hadError) settle();
        else
          settle(
            new DeliveryError(
              `syslog ${this.target}: the connection closed before the receiver confirmed the batch${this.clientCertificateHint}`,
              'retry',
            ),
          );
      });
    });
  }

  private connect(): Socket {
    if (!this.tls) return tcpConnect({ host: this.host, port: this.port });
    const s = this.spec.settings;
    const servername =
      typeof s.servername === 'string' ? s.servername : isIP(this.host) ? undefined : this.host;
    const socket: TLSSocket = tlsConnect({
      host: this.host,
      port: this.port,
      servername,
      ca: typeof s.ca === 'string' ? s.ca : undefined,
      cert: typeof s.cert === 'string' ? s.cert : undefined,
      key: typeof s.cert === 'string' ? this.spec.secret.key : undefined,
      minVersion: 'TLSv1.2',
      // Never off: a receiver we cannot verify is a configuration problem (settings.ca), not a warning.
      rejectUnauthorized: true,
    });
    return socket;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

export const syslogKind: SinkKind = {
  kind: 'syslog',
  formats: ['json', 'ocsf', 'cef'],
  validate: syslogSettingsProblems,
  hosts: (settings) => (typeof settings.host === 'string' && settings.host ? [settings.host] : []),
  create: (spec) => new SyslogSink(spec),
};
