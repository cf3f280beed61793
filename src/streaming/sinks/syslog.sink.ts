import { X509Certificate, createPrivateKey } from 'node:crypto';
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

/**
 * Syslog (RFC 5424 messages) over TCP with octet-counting framing (RFC 6587 §3.4.1) or over TLS (RFC 5425).
 *
 * Acknowledgement: plain syslog has none at the application level, so a batch is confirmed in the strongest
 * way TCP allows: one connection per batch, every frame written, our side half-closed (FIN), and `send`
 * resolves only when the receiver closes its side in turn without a reset. Receivers (rsyslog, syslog-ng)
 * close a session when they read its end, after every byte before it; a peer that closes with bytes left
 * unread resets the connection instead. So a clean close means "the receiver read the whole batch", not
 * "the receiver stored it": that proof needs RELP, which this sink does not speak. An error, a reset or a
 * timeout before that close is a `retry`, and the same batch is sent again: receivers dedupe by the event
 * id in the structured data (`[audit@<enterprise id> id="..."]`).
 */

/** Syslog facilities by name (RFC 5424 §6.2.1); settings.facility takes the number or the name. */
const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'audit',
  'alert',
  'clock',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;
/** 13, "log audit". */
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

const SETTINGS = [
  'host',
  'port',
  'tls',
  'facility',
  'appName',
  'hostname',
  'enterpriseId',
  'ca',
  'cert',
  'servername',
  'timeoutMs',
  'maxBatchEvents',
  'maxMessageBytes',
] as const;

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
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly spec: DestinationSpec) {
    const s = spec.settings;
    this.tls = s.tls === true;
    this.host = String(s.host);
    this.port = s.port === undefined ? (this.tls ? 6514 : 514) : Number(s.port);
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
    return `${this.tls ? 'tls' : 'tcp'}://${this.host}:${this.port}`;
  }

  async send(batch: OutboundBatch): Promise<void> {
    if (batch.events.length === 0) return;
    const frames: Buffer[] = [];
    for (const event of batch.events) {
      const frame = octetCountedFrame(syslogMessage(event, this.header));
      // A receiver cuts (rsyslog) or drops a message past its limit: refuse it here, where the streamer can
      // set that one event aside, rather than deliver it cut.
      if (frame.length > this.maxMessageBytes)
        throw new DeliveryError(
          `syslog ${this.target}: event ${event.source.event.id} is ${frame.length} bytes as a syslog message, over settings.maxMessageBytes (${this.maxMessageBytes})`,
          'reject',
        );
      frames.push(frame);
    }
    await this.exchange(Buffer.concat(frames));
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
        if (this.tls && !writing)
          settle(
            new DeliveryError(
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

function facilityOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 23) return value;
  if (typeof value === 'string') {
    const index = FACILITIES.indexOf(value as (typeof FACILITIES)[number]);
    if (index >= 0) return index;
  }
  return undefined;
}

const isInteger = (value: unknown, min: number, max: number) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/** Problems of the TLS material: each PEM parses, the client certificate and key belong together. */
function tlsProblems(settings: Record<string, unknown>, secret: Record<string, string>): string[] {
  const problems: string[] = [];
  const tls = settings.tls === true;
  for (const field of ['ca', 'cert', 'servername'] as const)
    if (settings[field] !== undefined && !tls) problems.push(`settings.${field} needs settings.tls: true`);
  if (settings.ca !== undefined) {
    if (typeof settings.ca !== 'string' || !certificates(settings.ca))
      problems.push('settings.ca must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)');
  }
  let certificate: X509Certificate | undefined;
  if (settings.cert !== undefined) {
    certificate = typeof settings.cert === 'string' ? certificates(settings.cert)?.[0] : undefined;
    if (!certificate)
      problems.push('settings.cert must be a PEM client certificate (-----BEGIN CERTIFICATE-----)');
    if (typeof secret.key !== 'string' || !secret.key)
      problems.push("secret.key is required with settings.cert (the client certificate's PEM private key)");
  }
  if (secret.key !== undefined && secret.key !== '') {
    if (settings.cert === undefined) problems.push('secret.key needs settings.cert (its client certificate)');
    else {
      try {
        const key = createPrivateKey(secret.key);
        if (certificate && !certificate.checkPrivateKey(key))
          problems.push('secret.key is not the private key of settings.cert');
      } catch {
        problems.push('secret.key must be a PEM private key (unencrypted)');
      }
    }
  }
  if (settings.servername !== undefined) {
    if (typeof settings.servername !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(settings.servername))
      problems.push("settings.servername must be a DNS name (the name the receiver's certificate carries)");
  }
  return problems;
}

/** The certificates of a PEM bundle, or undefined when it holds none or one does not parse. */
function certificates(pem: string): X509Certificate[] | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return undefined;
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    return undefined;
  }
}

export const syslogKind: SinkKind = {
  kind: 'syslog',
  formats: ['json', 'ocsf', 'cef'],
  validate(settings, secret) {
    const problems: string[] = [];
    for (const key of Object.keys(settings))
      if (!(SETTINGS as readonly string[]).includes(key))
        problems.push(
          `settings.${key} is not a syslog setting (known: ${SETTINGS.join(', ')}; certificate verification cannot be turned off)`,
        );
    for (const key of Object.keys(secret))
      if (key !== 'key')
        problems.push(`secret.${key} is not a syslog secret (only secret.key, with settings.cert)`);
    const host = settings.host;
    if (typeof host !== 'string' || !host)
      problems.push("settings.host is required (the receiver's host name or IP address)");
    else if (
      !isIP(host) &&
      !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(host)
    )
      problems.push('settings.host must be a host name or an IP address (no scheme, port or path)');
    if (settings.port !== undefined && !isInteger(settings.port, 1, 65535))
      problems.push('settings.port must be an integer from 1 to 65535 (default 514, or 6514 with tls)');
    if (settings.tls !== undefined && typeof settings.tls !== 'boolean')
      problems.push('settings.tls must be true or false');
    if (settings.facility !== undefined && facilityOf(settings.facility) === undefined)
      problems.push(
        `settings.facility must be 0-23 or a name (${FACILITIES.join(', ')}); default 13 (audit)`,
      );
    if (settings.appName !== undefined && !printable(settings.appName, 48))
      problems.push('settings.appName must be 1-48 printable ASCII characters without spaces');
    if (settings.hostname !== undefined && !printable(settings.hostname, 255))
      problems.push('settings.hostname must be 1-255 printable ASCII characters without spaces');
    if (
      settings.enterpriseId !== undefined &&
      !(
        (typeof settings.enterpriseId === 'string' || typeof settings.enterpriseId === 'number') &&
        /^\d+(\.\d+)*$/.test(String(settings.enterpriseId))
      )
    )
      problems.push(
        'settings.enterpriseId must be an IANA private enterprise number (digits, optionally dotted: 32473.1)',
      );
    if (settings.timeoutMs !== undefined && !isInteger(settings.timeoutMs, 1000, 300_000))
      problems.push('settings.timeoutMs must be an integer from 1000 to 300000');
    if (settings.maxBatchEvents !== undefined && !isInteger(settings.maxBatchEvents, 1, 10_000))
      problems.push('settings.maxBatchEvents must be an integer from 1 to 10000');
    if (
      settings.maxMessageBytes !== undefined &&
      !isInteger(settings.maxMessageBytes, 2048, 16 * 1024 * 1024)
    )
      problems.push('settings.maxMessageBytes must be an integer from 2048 to 16777216');
    problems.push(...tlsProblems(settings, secret));
    return problems;
  },
  hosts: (settings) => (typeof settings.host === 'string' && settings.host ? [settings.host] : []),
  create: (spec) => new SyslogSink(spec),
};

function printable(value: unknown, max: number): boolean {
  return (
    typeof value === 'string' && value.length >= 1 && value.length <= max && /^[\x21-\x7e]+$/.test(value)
  );
}
