import { createServer, Server, Socket } from 'node:net';
import { formatEvents } from '../src/streaming/formats';
import { RelpReader, relpFrame } from '../src/streaming/sinks/syslog-relp';
import { syslogKind } from '../src/streaming/sinks/syslog.sink';
import { AuditSink, DestinationFormat, StreamEvent } from '../src/streaming/streaming.types';
import { eventually } from './support/browser';
import { deliveryProblems } from './support/receivers/receiver';
import { RsyslogReceiver, startRsyslogReceiver } from './support/receivers/rsyslog';

/**
 * The syslog sink's RELP transport (settings.transport: 'relp') against rsyslog's imrelp: each message is
 * acknowledged by the receiver once queued, so a batch is confirmed message by message, not by a TCP close.
 * Then the protocol's failures against a scripted RELP server: a refused message, a session dropped before
 * every answer, a refused open.
 */
jest.setTimeout(60_000);

let counter = 0;
const seqs = new Map<string, number>();
function makeEvents(n: number): StreamEvent[] {
  return Array.from({ length: n }, (_, i) => {
    counter++;
    const organizationId = i % 3 === 2 ? null : `org-${i % 3}`;
    const sealSeq = (seqs.get(organizationId ?? '') ?? 0) + 1;
    seqs.set(organizationId ?? '', sealSeq);
    const event = {
      id: `0193a5f0-0000-7000-9000-${String(counter).padStart(12, '0')}`,
      occurredAt: new Date(Date.UTC(2026, 11, 7, 16, 0, 0, counter)).toISOString(),
      organizationId,
      actorId: 'user_1',
      actorType: 'user',
      action: 'update',
      eventType: 'invoice.update',
      resourceType: 'invoice',
      resourceId: `inv_${i}`,
      before: { total: i },
      after: { total: i + 1, note: 'a "quoted" | piped = value\nwith a newline, ünïcödé' },
      changes: [{ path: 'total', before: i, after: i + 1 }],
      status: 'success',
      statusCode: 200,
      errorMessage: null,
      severity: 'info',
      requestId: `req-${i}`,
      reason: null,
      transactionId: null,
      ip: '203.0.113.7',
      userAgent: 'curl/8.5',
      route: '/invoices/:id',
      method: 'PATCH',
      durationMs: 3,
      metadata: null,
    } as StreamEvent['event'];
    return { event, orgKey: organizationId ?? '', sealSeq: String(sealSeq) };
  });
}

const sinks: AuditSink[] = [];
function relpSink(port: number, format: DestinationFormat = 'json', timeoutMs = 5000): AuditSink {
  const settings = { host: '127.0.0.1', port, transport: 'relp', timeoutMs };
  expect(syslogKind.validate(settings, {})).toEqual([]);
  const sink = syslogKind.create({ id: 'r1', name: 'siem', kind: 'syslog', format, settings, secret: {} });
  sinks.push(sink);
  return sink;
}

afterAll(async () => {
  await Promise.all(sinks.map((sink) => sink.close()));
});

describe('syslog over RELP (rsyslog imrelp)', () => {
  let rsyslog: RsyslogReceiver;
  beforeAll(async () => {
    rsyslog = await startRsyslogReceiver({ listener: 'relp' });
  }, 10 * 60_000);
  afterAll(async () => {
    await rsyslog?.destroy();
  });

  it('delivers json and CEF: every message acknowledged, parsed by rsyslog, once, in order', async () => {
    for (const format of ['json', 'cef'] as const) {
      const before = rsyslog.records().length;
      const events = makeEvents(120);
      const sink = relpSink(rsyslog.ports.relp, format);
      const formatted = formatEvents(format, events);
      for (let i = 0; i < formatted.length; i += 50)
        await sink.send({ deliveryId: `b${i}`, events: formatted.slice(i, i + 50) });
      // Acknowledged means queued by rsyslog; written to its file a moment later.
      const records = await eventually(async () => {
        const all = rsyslog.records().slice(before);
        expect(all.length).toBeGreaterThanOrEqual(events.length);
        return all;
      });
      expect(records).toHaveLength(events.length);
      expect(records.every((r) => r.input === 'relp' && r.sdId === 'audit@32473')).toBe(true);
      const arrived = (await rsyslog.received()).slice(before);
      const ids = events.map((e) => e.event.id);
      expect({ format, problems: deliveryProblems(ids, arrived) }).toEqual({ format, problems: [] });
      expect(arrived.map((e) => e.id)).toEqual(ids);
    }
  });

  it('retries while rsyslog is down; the same batch then arrives', async () => {
    const events = makeEvents(5);
    const sink = relpSink(rsyslog.ports.relp);
    const batch = { deliveryId: 'outage', events: formatEvents('json', events) };
    const before = rsyslog.records().length;
    await rsyslog.stop();
    try {
      await expect(sink.send(batch)).rejects.toMatchObject({
        failure: 'retry',
        message: expect.stringContaining('ECONNREFUSED'),
      });
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
  });
});

describe('RELP failures, against a scripted server', () => {
  let server: Server;
  let port: number;
  /** What the server does with each complete frame from the client. */
  let answer: (socket: Socket, txnr: number, command: string) => void;
  const open = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      const reader = new RelpReader();
      socket.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) answer(socket, frame.txnr, frame.command);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const send = () =>
    relpSink(port, 'json', 1000).send({ deliveryId: 'x', events: formatEvents('json', makeEvents(4)) });
  const ok = (socket: Socket, txnr: number) => socket.write(relpFrame(txnr, 'rsp', '200 OK'));

  it('every message answered 200: delivered', async () => {
    answer = (socket, txnr) => ok(socket, txnr);
    await expect(send()).resolves.toBeUndefined();
  });

  it('a message refused (500): retry, naming the answer', async () => {
    answer = (socket, txnr, command) =>
      command === 'syslog' && txnr === 3
        ? socket.write(relpFrame(txnr, 'rsp', '500 queue full'))
        : ok(socket, txnr);
    await expect(send()).rejects.toMatchObject({
      failure: 'retry',
      message: expect.stringContaining('500 queue full'),
    });
  });

  it('the session dropped after some answers: retry, saying how many were not acknowledged', async () => {
    answer = (socket, txnr) => (txnr < 4 ? ok(socket, txnr) : socket.destroy());
    await expect(send()).rejects.toMatchObject({
      failure: 'retry',
      message: expect.stringContaining('2 of 4 not acknowledged'),
    });
  });

  it('answers that never come: timeout, retry', async () => {
    answer = (socket, txnr, command) => (command === 'open' ? ok(socket, txnr) : undefined);
    await expect(send()).rejects.toMatchObject({
      failure: 'retry',
      message: expect.stringContaining('timed out'),
    });
  });

  it('open refused: pause (the receiver does not take this client)', async () => {
    answer = (socket, txnr) => socket.write(relpFrame(txnr, 'rsp', '500 unsupported relp_version'));
    await expect(send()).rejects.toMatchObject({ failure: 'pause' });
  });

  it('validate: transport is tcp or relp, and relp goes without tls', () => {
    expect(syslogKind.validate({ host: 'siem', transport: 'udp' }, {})).toEqual([
      expect.stringContaining('settings.transport must be'),
    ]);
    expect(syslogKind.validate({ host: 'siem', transport: 'relp', tls: true }, {})).toEqual([
      expect.stringContaining('settings.tls is not supported with settings.transport: relp'),
    ]);
  });
});
