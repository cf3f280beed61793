import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DestinationFormat } from '../../../src/streaming/streaming.types';
import { freePort } from '../process';
import { makeTestPki, TestPki } from './test-pki';
import { ReceivedEvent, ReceiverDestination, TestReceiver } from './receiver';

/**
 * rsyslog as a SIEM's syslog receiver: a private `rsyslogd -n` (its own config, work directory and pid
 * file; nothing of the system's) with three imtcp listeners on loopback: plain TCP, TLS (gtls driver,
 * anonymous clients) and mutual TLS (clients need a certificate from the test CA), and a RELP listener
 * (imrelp). Every message is written by rsyslog to a file as one JSON line of the fields its RFC 5424 parser
 * found.
 */

const RSYSLOGD_CANDIDATES = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd', '/usr/local/sbin/rsyslogd'];
const PLUGIN_DIRS = [
  '/usr/lib/x86_64-linux-gnu/rsyslog',
  '/usr/lib/aarch64-linux-gnu/rsyslog',
  '/usr/lib/rsyslog',
];

function rsyslogd(): string | undefined {
  return RSYSLOGD_CANDIDATES.find(existsSync);
}

function hasPlugin(file: string): boolean {
  return [...PLUGIN_DIRS, ...libDirs()].some((dir) => existsSync(join(dir, file)));
}

/** The TLS driver (rsyslog-gnutls) and the RELP input (rsyslog-relp). */
function hasPlugins(): boolean {
  return hasPlugin('lmnsd_gtls.so') && hasPlugin('imrelp.so');
}

function libDirs(): string[] {
  try {
    return readdirSync('/usr/lib')
      .filter((name) => name.endsWith('-linux-gnu'))
      .map((name) => join('/usr/lib', name, 'rsyslog'));
  } catch {
    return [];
  }
}

/**
 * rsyslog, its TLS driver and its RELP input from Debian (`apt-get install rsyslog rsyslog-gnutls
 * rsyslog-relp`; .ci/run installs them),
 * installed here when missing, as root or with passwordless sudo, like ensureChromium. Throws when they are
 * still missing afterwards.
 */
export function ensureRsyslog(log: (line: string) => void = console.log): string {
  if (!rsyslogd() || !hasPlugins()) {
    const root = process.getuid?.() === 0;
    const sudo = !root && spawnSync('sudo', ['-n', 'true']).status === 0;
    if ((root || sudo) && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
      const run = (args: string[]) =>
        spawnSync(root ? args[0] : 'sudo', root ? args.slice(1) : ['-n', ...args], {
          stdio: 'inherit',
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
          timeout: 10 * 60_000,
        });
      log(
        "No rsyslog for the syslog tests: installing Debian's packages (apt-get install rsyslog rsyslog-gnutls rsyslog-relp)...",
      );
      run(['apt-get', 'update', '-qq']);
      run([
        'apt-get',
        'install',
        '-y',
        '-qq',
        '--no-install-recommends',
        'rsyslog',
        'rsyslog-gnutls',
        'rsyslog-relp',
      ]);
    }
  }
  const binary = rsyslogd();
  if (!binary || !hasPlugins())
    throw new Error(
      'The syslog tests need rsyslog with its TLS driver and RELP input: apt-get install -y rsyslog rsyslog-gnutls rsyslog-relp',
    );
  return binary;
}

/** What rsyslog parsed out of one message (the template below), plus our reading of its SD and MSG. */
export interface RsyslogRecord {
  pri: number;
  timereported: string;
  hostname: string;
  appname: string;
  procid: string;
  msgid: string;
  /** The STRUCTURED-DATA field as rsyslog kept it (escapes included). */
  structuredData: string;
  /** Which listener: tcp, tls, mtls or relp. */
  input: string;
  /** MSG as rsyslog kept it (a BOM included). */
  msg: string;
  /** The audit SD element's params, unescaped. */
  sd: Record<string, string>;
  sdId: string;
}

export type RsyslogListener = 'tcp' | 'tls' | 'mtls' | 'relp';

export interface RsyslogReceiver extends TestReceiver {
  readonly ports: Record<RsyslogListener, number>;
  readonly pki: TestPki;
  /** A destination for this listener (default: the receiver's `listener` option). */
  destination(format?: DestinationFormat, listener?: RsyslogListener): ReceiverDestination;
  /** Every message rsyslog wrote, in arrival order, with the fields its parser found. */
  records(): RsyslogRecord[];
  /** rsyslogd's own messages (stderr, and its internal log): TLS handshake refusals and the like. */
  log(): string;
}

export interface RsyslogReceiverOptions {
  /** The listener destination() points at when not told: `tcp` (default), `tls`, `mtls` or `relp`. */
  listener?: RsyslogListener;
  /** settings.enterpriseId of its destinations (default: the sink's). */
  enterpriseId?: string;
}

export async function startRsyslogReceiver(options: RsyslogReceiverOptions = {}): Promise<RsyslogReceiver> {
  const binary = ensureRsyslog();
  const dir = mkdtempSync(join(tmpdir(), 'audit-rsyslog-'));
  const pki = makeTestPki(dir);
  const ports = {
    tcp: await freePort(),
    tls: await freePort(),
    mtls: await freePort(),
    relp: await freePort(),
  };
  const output = join(dir, 'received.jsonl');
  const stderr = join(dir, 'rsyslogd.log');
  const internal = join(dir, 'internal.log');
  const pidFile = join(dir, 'rsyslogd.pid');
  const config = join(dir, 'rsyslog.conf');
  const tlsParams = (authMode: string) =>
    `streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="${authMode}" ` +
    `streamDriver.caFile="${join(dir, 'ca.pem')}" streamDriver.certFile="${join(dir, 'server.pem')}" ` +
    `streamDriver.keyFile="${join(dir, 'server.key')}"`;
  const field = (out: string, name: string, extra = '') =>
    `property(outname="${out}" name="${name}" format="jsonf"${extra})`;
  writeFileSync(
    config,
    [
      // maxMessageSize above the sink's default limit (64 KiB); rsyslog's own default is 8 KiB.
      // At SIGTERM (an outage) rsyslog must keep what it acknowledged (a clean close of a TCP session, a RELP
      // 200): inputs get time to stop by themselves (after inputs.timeout.shutdown, default 1 s, a busy one is
      // cancelled, read but not queued data lost), and the queue to be written out (messages still queued at
      // queue.timeoutShutdown are discarded). On a loaded machine the defaults are not enough.
      `global(workDirectory="${dir}" maxMessageSize="256k" inputs.timeout.shutdown="60000")`,
      'main_queue(queue.timeoutShutdown="60000")',
      'module(load="imtcp" maxSessions="200")',
      'module(load="imrelp")',
      // rsyslogd's own messages (the default ruleset gets nothing else): for failure reports.
      `action(type="omfile" file="${internal}")`,
      'template(name="auditJson" type="list") {',
      '  constant(value="{")',
      `  ${field('pri', 'pri')} constant(value=",")`,
      `  ${field('timereported', 'timereported', ' dateFormat="rfc3339"')} constant(value=",")`,
      `  ${field('hostname', 'hostname')} constant(value=",")`,
      `  ${field('appname', 'app-name')} constant(value=",")`,
      `  ${field('procid', 'procid')} constant(value=",")`,
      `  ${field('msgid', 'msgid')} constant(value=",")`,
      `  ${field('structuredData', 'structured-data')} constant(value=",")`,
      `  ${field('input', 'inputname')} constant(value=",")`,
      `  ${field('msg', 'msg')}`,
      '  constant(value="}\\n")',
      '}',
      `ruleset(name="audit") { action(type="omfile" file="${output}" template="auditJson") }`,
      `input(type="imtcp" name="tcp" address="127.0.0.1" port="${ports.tcp}" ruleset="audit")`,
      `input(type="imtcp" name="tls" address="127.0.0.1" port="${ports.tls}" ruleset="audit" ${tlsParams('anon')})`,
      `input(type="imtcp" name="mtls" address="127.0.0.1" port="${ports.mtls}" ruleset="audit" ${tlsParams('x509/certvalid')})`,
      `input(type="imrelp" name="relp" address="127.0.0.1" port="${ports.relp}" ruleset="audit")`,
      '',
    ].join('\n'),
  );
  const check = spawnSync(binary, ['-N1', '-f', config], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`rsyslogd refused its test config: ${check.stderr}${check.stdout}`);

  let child: ChildProcess | undefined;
  const start = async () => {
    if (child) return;
    const err = openSync(stderr, 'a');
    child = spawn(binary, ['-n', '-f', config, '-i', pidFile], { stdio: ['ignore', err, err] });
    closeSync(err);
    const started = child;
    started.once('exit', () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + 15_000;
    for (const port of Object.values(ports))
      while (!(await accepts(port))) {
        if (!child) throw new Error(`rsyslogd exited at start: ${readLog()}`);
        if (Date.now() > deadline) throw new Error(`rsyslogd does not listen on ${port}: ${readLog()}`);
        await sleep(50);
      }
  };
  const stop = async () => {
    const running = child;
    if (!running) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    // As long as rsyslog's own shutdown timeouts (config above): a SIGKILL loses what it acknowledged.
    const killed = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 65_000))),
    ]);
    clearTimeout(timer);
    if (!killed) {
      running.kill('SIGKILL');
      await exited;
      appendFileSync(
        stderr,
        'test receiver: rsyslogd did not stop within 65 s of SIGTERM and was SIGKILLed (what it had acknowledged but not written is lost)\n',
      );
    }
    child = undefined;
  };
  const readLog = () =>
    [stderr, internal]
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file, 'utf8'))
      .join('');
  const records = (): RsyslogRecord[] => {
    if (!existsSync(output)) return [];
    return readFileSync(output, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => toRecord(JSON.parse(line) as Record<string, string>));
  };
  await start();

  return {
    name: 'rsyslog',
    ports,
    pki,
    destination(
      format: DestinationFormat = 'json',
      listener = options.listener ?? 'tcp',
    ): ReceiverDestination {
      const settings: Record<string, unknown> = { host: '127.0.0.1', port: ports[listener], timeoutMs: 5000 };
      if (options.enterpriseId) settings.enterpriseId = options.enterpriseId;
      const secret: Record<string, string> = {};
      if (listener === 'relp') settings.transport = 'relp';
      else if (listener !== 'tcp')
        Object.assign(settings, { tls: true, ca: pki.ca.cert, servername: 'localhost' });
      if (listener === 'mtls') {
        settings.cert = pki.client.cert;
        secret.key = pki.client.key;
      }
      return { kind: 'syslog', format, settings, secret };
    },
    records,
    async received() {
      return records().map(receivedFromSyslog);
    },
    log: readLog,
    daemonLog: readLog,
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function toRecord(line: Record<string, string>): RsyslogRecord {
  const { id, params } = parseSd(line.structuredData ?? '-');
  return {
    pri: Number(line.pri),
    timereported: line.timereported,
    hostname: line.hostname,
    appname: line.appname,
    procid: line.procid,
    msgid: line.msgid,
    structuredData: line.structuredData,
    input: line.input,
    msg: line.msg,
    sd: params,
    sdId: id,
  };
}

/** The first SD element: `[id name="value" ...]`, values unescaped (`\"`, `\\`, `\]`). */
export function parseSd(sd: string): { id: string; params: Record<string, string> } {
  const element = /^\[([^\s\]]+)((?:\s+[^\s=]+="(?:[^"\\]|\\.)*")*)\]/.exec(sd);
  if (!element) return { id: '', params: {} };
  const params: Record<string, string> = {};
  for (const match of element[2].matchAll(/([^\s=]+)="((?:[^"\\]|\\.)*)"/g))
    params[match[1]] = match[2].replace(/\\(["\\\]])/g, '$1');
  return { id: element[1], params };
}

/** A received event from MSG: a CEF line (externalId, cs1, cn1, rt) or a JSON / OCSF record. */
export function receivedFromSyslog(record: RsyslogRecord): ReceivedEvent {
  const msg = record.msg.replace(/^\ufeff/, '');
  if (msg.startsWith('CEF:')) {
    const extension = parseCefExtension(msg);
    return {
      id: extension.externalId,
      organizationId: extension.cs1Label === 'organization' ? extension.cs1 : null,
      chainSeq: Number(extension.cn1),
      occurredAt: new Date(Number(extension.rt)).toISOString(),
      raw: { syslog: record, cef: extension },
    };
  }
  const body = JSON.parse(msg) as Record<string, unknown>;
  const metadata = body.metadata as Record<string, unknown> | undefined;
  if (typeof body.id === 'string' && 'chainSeq' in body)
    return {
      id: body.id,
      organizationId: (body.organizationId as string | null) ?? null,
      chainSeq: Number(body.chainSeq),
      occurredAt: String(body.occurredAt),
      raw: { syslog: record, body },
    };
  if (metadata && typeof metadata.uid === 'string')
    return {
      id: metadata.uid,
      organizationId: (metadata.tenant_uid as string | null | undefined) ?? null,
      chainSeq: Number(metadata.sequence),
      occurredAt: typeof body.time === 'number' ? new Date(body.time).toISOString() : String(body.time),
      raw: { syslog: record, body },
    };
  throw new Error(`rsyslog received a message that is no audit event: ${msg.slice(0, 200)}`);
}

/** The extension of a CEF line as key → unescaped value (keys are alphanumeric; `=` in values is escaped). */
export function parseCefExtension(line: string): Record<string, string> {
  let pipes = 0;
  let i = 0;
  for (; i < line.length && pipes < 7; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '|') pipes++;
  }
  const rest = line.slice(i);
  // A key is alphanumeric right before `=`; every `=` inside a value is escaped (`\=`), so it never matches.
  const keys = [...rest.matchAll(/(?:^| )([A-Za-z0-9]+)=/g)];
  const extension: Record<string, string> = {};
  keys.forEach((match, k) => {
    const end = k + 1 < keys.length ? keys[k + 1].index : rest.length;
    extension[match[1]] = rest
      .slice(match.index + match[0].length, end)
      .replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  });
  return extension;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
