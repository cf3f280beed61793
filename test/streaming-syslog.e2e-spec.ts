import { createServer, Server, Socket } from 'node:net';
import { formatEvents } from '../src/streaming/formats';
import { syslogKind } from '../src/streaming/sinks/syslog.sink';
import {
  AuditSink,
  DeliveryError,
  DestinationFormat,
  FormattedEvent,
  StreamEvent,
} from '../src/streaming/streaming.types';
import { eventually } from './support/browser';
import { deliveryProblems, ReceiverDestination } from './support/receivers/receiver';
import { RsyslogListener, RsyslogReceiver, startRsyslogReceiver } from './support/receivers/rsyslog';

/**
 * The syslog sink against a real rsyslog (RFC 5424 parser, octet-counted TCP, TLS with the gtls driver):
 * what rsyslog parsed out of each message, not only the bytes, and the sink's failures as the streamer
 * sees them (retry while rsyslog is down, pause on a certificate problem).
 */
jest.setTimeout(60_000);

type View = StreamEvent['event'];
const HOSTILE = 'a"b]c\\d|e=f\ng\r\nh\tí 日本 😀 [x="y"] CEF:0|x';
const ORGS = ['org_a', 'org "b"]\\', null] as const;

let counter = 0;
/** Chain sequences per organization, rising across every batch of the file (as the streamer sends them). */
const chainSeq = new Map<string, number>();
/** Events of three organizations (one with a hostile id, one none), chain sequences rising per organization. */
function makeEvents(n: number, tweak: (i: number) => Partial<View> = () => ({})): StreamEvent[] {
  return Array.from({ length: n }, (_, i) => {
    counter++;
    const organizationId = ORGS[i % ORGS.length];
    const sealSeq = (chainSeq.get(organizationId ?? '') ?? 10) + 1;
    chainSeq.set(organizationId ?? '', sealSeq);
    const event = {
      id: `0193a5f0-0000-7000-8000-${String(counter).padStart(12, '0')}`,
      occurredAt: new Date(Date.UTC(2026, 11, 7, 15, 0, 0, counter)).toISOString(),
      organizationId,
      actorId: i % 2 ? HOSTILE : 'user_1',
      actorType: 'user',
      action: ['create', 'update', 'delete', 'export report'][i % 4],
      eventType: `invoice.${['create', 'update', 'delete', 'export'][i % 4]}`,
      resourceType: 'invoice',
      resourceId: i % 3 ? `inv_${i}` : 'facture-é',
      before: { total: i },
      after: { total: i + 1, note: HOSTILE },
      changes: [{ path: 'total', before: i, after: i + 1 }],
      status: i % 5 === 4 ? 'failure' : 'success',
      statusCode: i % 5 === 4 ? 409 : 200,
      errorMessage: i % 5 === 4 ? 'Conflict' : null,
      severity: ['info', 'notice', 'warning', 'critical'][i % 4],
      requestId: `req-${i}`,
      reason: i % 2 ? HOSTILE : null,
      transactionId: null,
      ip: i % 2 ? '203.0.113.7' : '2001:db8::7',
      userAgent: 'curl/8.5 (x|y=z)',
      route: '/invoices/:id',
      method: 'PATCH',
      durationMs: 3,
      metadata: null,
      ...tweak(i),
    } as View;
    return { event, orgKey: organizationId ?? '', sealSeq: String(sealSeq) };
  });
}

const SEVERITY: Record<string, number> = { info: 6, notice: 5, warning: 4, critical: 2 };

describe('syslog destination (rsyslog)', () => {
  let rsyslog: RsyslogReceiver;
  const sinks: AuditSink[] = [];

  function sinkFor(destination: ReceiverDestination, settings: Record<string, unknown> = {}): AuditSink {
    const merged = { ...destination.settings, ...settings };
    expect(syslogKind.validate(merged, destination.secret)).toEqual([]);
    const sink = syslogKind.create({
      id: 'd1',
      name: 'siem',
      kind: 'syslog',
      format: destination.format,
      settings: merged,
      secret: destination.secret,
    });
    sinks.push(sink);
    return sink;
  }

  /** Sends the events in batches of `size` and waits until rsyslog wrote them all; returns its new records. */
  async function deliver(
    format: DestinationFormat,
    listener: RsyslogListener,
    events: StreamEvent[],
    size = 10,
  ): Promise<{ formatted: FormattedEvent[]; records: ReturnType<RsyslogReceiver['records']> }> {
    const before = rsyslog.records().length;
    const sink = sinkFor(rsyslog.destination(format, listener), { hostname: 'api-1.test' });
    const formatted = formatEvents(format, events);
    for (let i = 0; i < formatted.length; i += size)
      await sink.send({ deliveryId: `b${i}`, events: formatted.slice(i, i + size) });
    const records = await eventually(async () => {
      const all = rsyslog.records();
      expect(all.length).toBeGreaterThanOrEqual(before + events.length);
      return all.slice(before);
    });
    await new Promise((resolve) => setTimeout(resolve, 200)); // nothing more (duplicates) trails behind
    expect(rsyslog.records().length).toBe(before + events.length);
    return { formatted, records };
  }

  /** What rsyslog parsed equals what we sent: header fields, the SD element, MSG (BOM when not ASCII). */
  function expectParsed(
    formatted: FormattedEvent[],
    records: ReturnType<RsyslogReceiver['records']>,
    input: string,
  ) {
    expect(records).toHaveLength(formatted.length);
    formatted.forEach(({ source: { event, sealSeq }, text }, i) => {
      const record = records[i];
      expect(record).toMatchObject({
        pri: 13 * 8 + SEVERITY[event.severity],
        timereported: event.occurredAt,
        hostname: 'api-1.test',
        appname: 'nest-audit-trail',
        procid: '-',
        msgid: event.action.replace(/ /g, '_'),
        input,
        sdId: 'audit@32473',
      });
      const sd: Record<string, string> = { id: event.id, seq: sealSeq };
      if (event.organizationId !== null) sd.org = event.organizationId;
      expect(record.sd).toEqual(sd);
      const ascii = /^[\x20-\x7e]*$/.test(text);
      expect(record.msg).toBe(ascii ? text : `\ufeff${text}`);
    });
  }

  // Minutes only the first time on a machine without rsyslog: ensureRsyslog installs Debian's packages.
  beforeAll(async () => {
    rsyslog = await startRsyslogReceiver();
  }, 10 * 60_000);

  afterAll(async () => {
    await Promise.all(sinks.map((sink) => sink.close()));
    await rsyslog?.destroy();
  });

  it('delivers json over TCP: every event once, in order, with the RFC 5424 fields rsyslog parsed', async () => {
    const events = makeEvents(25, (i) => (i === 7 ? { after: { blob: 'x'.repeat(20_000) + ' é' } } : {}));
    const { formatted, records } = await deliver('json', 'tcp', events);
    expectParsed(formatted, records, 'tcp');
    const received = records.map((r) => JSON.parse(r.msg.replace(/^\ufeff/, '')) as Record<string, unknown>);
    expect(received).toEqual(formatted.map((f) => f.record));
    const ids = events.map((e) => e.event.id);
    const arrived = await rsyslog.received();
    expect(arrived.slice(-25).map((e) => e.id)).toEqual(ids);
    expect(deliveryProblems(ids, arrived.slice(-25))).toEqual([]);
    expect(arrived.slice(-25).map((e) => e.organizationId)).toEqual(
      events.map((e) => e.event.organizationId),
    );
  });

  it('delivers CEF over TCP: the line arrives intact and reads back to the event', async () => {
    const events = makeEvents(12);
    const { formatted, records } = await deliver('cef', 'tcp', events, 5);
    expectParsed(formatted, records, 'tcp');
    const arrived = (await rsyslog.received()).slice(-12);
    expect(
      deliveryProblems(
        events.map((e) => e.event.id),
        arrived,
      ),
    ).toEqual([]);
    arrived.forEach((got, i) => {
      const { event, sealSeq } = events[i];
      expect(got).toMatchObject({
        id: event.id,
        organizationId: event.organizationId,
        chainSeq: Number(sealSeq),
        occurredAt: event.occurredAt,
      });
      const cef = (got.raw as { cef: Record<string, string> }).cef;
      // Every character back as it was, but the tab: CEF has no escape for it, it travels as a space.
      expect(cef.suser).toBe(event.actorId?.replace(/\t/g, ' '));
      if (event.reason) expect(cef.cs5).toBe(event.reason.replace(/\t/g, ' '));
    });
  });

  it("delivers ocsf over TLS and CEF over mutual TLS, verifying rsyslog's certificate", async () => {
    const ocsf = makeEvents(9);
    const overTls = await deliver('ocsf', 'tls', ocsf, 4);
    expectParsed(overTls.formatted, overTls.records, 'tls');
    const cef = makeEvents(6);
    const overMtls = await deliver('cef', 'mtls', cef, 3);
    expectParsed(overMtls.formatted, overMtls.records, 'mtls');
    const arrived = (await rsyslog.received()).slice(-15);
    expect(
      deliveryProblems(
        [...ocsf, ...cef].map((e) => e.event.id),
        arrived,
      ),
    ).toEqual([]);
    expect(arrived.map((e) => e.chainSeq)).toEqual([...ocsf, ...cef].map((e) => Number(e.sealSeq)));
  });

  it('retries while rsyslog is down, and the same batch then arrives once', async () => {
    const events = makeEvents(5);
    const sink = sinkFor(rsyslog.destination('json'));
    const batch = { deliveryId: 'outage', events: formatEvents('json', events) };
    const before = rsyslog.records().length;
    await rsyslog.stop();
    try {
      const error = await sink.send(batch).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeliveryError);
      expect(error).toMatchObject({ failure: 'retry', message: expect.stringContaining('ECONNREFUSED') });
    } finally {
      await rsyslog.start();
    }
    await sink.send(batch);
    const arrived = await eventually(async () => {
      const all = (await rsyslog.received()).slice(before);
      expect(all).toHaveLength(5);
      return all;
    });
    expect(
      deliveryProblems(
        events.map((e) => e.event.id),
        arrived,
      ),
    ).toEqual([]);
    expect(new Set(arrived.map((e) => e.id)).size).toBe(5);
  });

  it("pauses on a certificate problem: a CA that did not sign rsyslog's certificate, or the wrong name", async () => {
    const before = rsyslog.records().length;
    const batch = { deliveryId: 'tls', events: formatEvents('json', makeEvents(2)) };
    const wrongCa = sinkFor(rsyslog.destination('json', 'tls'), { ca: rsyslog.pki.otherCa.cert });
    await expect(wrongCa.send(batch)).rejects.toMatchObject({
      name: 'DeliveryError',
      failure: 'pause',
      message: expect.stringMatching(/certificate is not trusted.*settings\.ca/),
    });
    const wrongName = sinkFor(rsyslog.destination('json', 'tls'), { servername: 'siem.example.com' });
    await expect(wrongName.send(batch)).rejects.toMatchObject({
      failure: 'pause',
      message: expect.stringContaining('ERR_TLS_CERT_ALTNAME_INVALID'),
    });
    // The machine's trust store alone does not know the test CA: no silent trust of an unknown receiver.
    const { ca: _ca, ...noCa } = rsyslog.destination('json', 'tls').settings;
    const withoutCa = syslogKind.create({
      id: 'd2',
      name: 'siem',
      kind: 'syslog',
      format: 'json',
      settings: noCa,
      secret: {},
    });
    sinks.push(withoutCa);
    await expect(withoutCa.send(batch)).rejects.toMatchObject({ failure: 'pause' });
    // TLS spoken to the plain listener: rsyslog waits for a frame, never answers the handshake.
    const tlsToPlain = sinkFor(
      {
        ...rsyslog.destination('json', 'tls'),
        settings: { ...rsyslog.destination('json', 'tls').settings, port: rsyslog.ports.tcp },
      },
      { timeoutMs: 1000 },
    );
    await expect(tlsToPlain.send(batch)).rejects.toMatchObject({
      failure: 'retry',
      message: expect.stringContaining('timed out after 1000 ms during the TLS handshake'),
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(
      rsyslog
        .records()
        .slice(before)
        .filter((r) => r.sd.id),
    ).toEqual([]);
  });

  it('pauses when the mutual-TLS listener refuses the client (no certificate, or one it does not trust)', async () => {
    const before = rsyslog.records().length;
    const destination = rsyslog.destination('json', 'mtls');
    const { cert: _cert, ...settings } = destination.settings;
    const batch = { deliveryId: 'mtls', events: formatEvents('json', makeEvents(2)) };
    const refused = [
      sinkFor({ ...destination, settings, secret: {} }),
      sinkFor(
        { ...destination, secret: { key: rsyslog.pki.otherClient.key } },
        { cert: rsyslog.pki.otherClient.cert },
      ),
    ];
    for (const sink of refused)
      await expect(sink.send(batch)).rejects.toMatchObject({
        name: 'DeliveryError',
        failure: 'pause',
        message: expect.stringContaining('it refuses this client'),
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rsyslog.records().slice(before)).toEqual([]);
    expect(rsyslog.log()).toContain('did not provide a certificate');
  });

  it('refuses an event too long for settings.maxMessageBytes (reject: the streamer sets it aside)', async () => {
    const [small, big] = formatEvents(
      'json',
      makeEvents(2, (i) => (i === 1 ? { after: { blob: 'y'.repeat(5000) } } : {})),
    );
    const sink = sinkFor(rsyslog.destination('json'), { maxMessageBytes: 4096 });
    await expect(sink.send({ deliveryId: 'big', events: [small, big] })).rejects.toMatchObject({
      failure: 'reject',
      message: expect.stringContaining(big.source.event.id),
    });
    await sink.send({ deliveryId: 'small', events: [small] });
  });

  describe('the acknowledgement: resolved only when the peer closes after reading everything', () => {
    let server: Server;
    let behaviour: (socket: Socket) => void;
    let port: number;
    const open = new Set<Socket>();

    beforeAll(async () => {
      // allowHalfOpen: the peer decides when to close (Node would otherwise close as soon as our end arrives).
      server = createServer({ allowHalfOpen: true }, (socket) => {
        open.add(socket);
        socket.on('close', () => open.delete(socket));
        behaviour(socket);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const send = () =>
      sinkFor({
        kind: 'syslog',
        format: 'json',
        settings: { host: '127.0.0.1', port, timeoutMs: 1000 },
        secret: {},
      }).send({
        deliveryId: 'peer',
        events: formatEvents('json', makeEvents(3)),
      });

    it('a peer that never closes: timeout, retry', async () => {
      behaviour = (socket) => socket.resume();
      await expect(send()).rejects.toMatchObject({
        failure: 'retry',
        message: expect.stringContaining('waiting for the receiver to close'),
      });
    });

    it('a peer that resets before reading: retry', async () => {
      behaviour = (socket) => socket.resetAndDestroy();
      await expect(send()).rejects.toMatchObject({ failure: 'retry' });
    });

    it('a peer that reads to the end, then closes: delivered', async () => {
      const got: Buffer[] = [];
      behaviour = (socket) => {
        socket.on('data', (chunk: Buffer) => got.push(chunk));
        socket.on('end', () => socket.end());
      };
      await send();
      const frames = Buffer.concat(got).toString('utf8');
      expect(frames.match(/^\d+ <\d+>1 /)).not.toBeNull();
      expect(frames.match(/\[audit@32473 id="/g)).toHaveLength(3);
    });
  });

  it('validate names the field of each bad setting', () => {
    for (const listener of ['tcp', 'tls', 'mtls'] as const) {
      const { settings, secret } = rsyslog.destination('json', listener);
      expect(syslogKind.validate(settings, secret)).toEqual([]);
    }
    const mtls = rsyslog.destination('json', 'mtls');
    expect(syslogKind.validate({ ...mtls.settings, cert: rsyslog.pki.server.cert }, mtls.secret)).toEqual([
      'secret.key is not the private key of settings.cert',
    ]);
    expect(syslogKind.validate({ host: 'h', port: 0, ca: rsyslog.pki.ca.cert }, {})).toEqual([
      expect.stringContaining('settings.port'),
      'settings.ca needs settings.tls: true',
    ]);
    expect(
      syslogKind.validate(
        { host: 'h', tls: true, ca: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----' },
        {},
      ),
    ).toEqual([expect.stringContaining('settings.ca must be')]);
  });
});
