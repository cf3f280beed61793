import { FormattedEvent, StreamEvent } from '../streaming.types';
import {
  escapeSdParam,
  headerField,
  octetCountedFrame,
  syslogFailure,
  syslogKind,
  syslogMessage,
  syslogPri,
} from './syslog.sink';

type View = StreamEvent['event'];

const HEADER = { facility: 13, appName: 'nest-audit-trail', hostname: 'api-1', enterpriseId: '32473' };

function formatted(overrides: Partial<View> = {}, text = '{"a":1}', sealSeq = '12'): FormattedEvent {
  const event = {
    id: '0193a5f0-0000-7000-8000-000000000001',
    occurredAt: '2026-12-07T15:04:05.678Z',
    organizationId: 'org_1',
    action: 'update',
    severity: 'info',
    ...overrides,
  } as View;
  return { source: { event, orgKey: event.organizationId ?? '', sealSeq }, record: null, text };
}

describe('syslog sink: messages', () => {
  it('computes PRI as facility × 8 + severity (info 6, notice 5, warning 4, critical 2)', () => {
    expect(['info', 'notice', 'warning', 'critical'].map((s) => syslogPri(13, s))).toEqual([
      110, 109, 108, 106,
    ]);
    expect(syslogPri(16, 'critical')).toBe(130);
    expect(syslogPri(0, 'info')).toBe(6);
  });

  it('writes an RFC 5424 message: header fields, the audit SD element, then MSG', () => {
    expect(syslogMessage(formatted(), HEADER)).toBe(
      '<110>1 2026-12-07T15:04:05.678Z api-1 nest-audit-trail - update ' +
        '[audit@32473 id="0193a5f0-0000-7000-8000-000000000001" org="org_1" seq="12"] {"a":1}',
    );
  });

  it('leaves org out of the SD for an event without organization, and uses `audit` without an action', () => {
    const message = syslogMessage(formatted({ organizationId: null, action: '' }), HEADER);
    expect(message).toContain(' - audit [audit@32473 id="0193a5f0-0000-7000-8000-000000000001" seq="12"] ');
  });

  it('escapes ", \\ and ] in SD-PARAM values, and nothing else', () => {
    expect(escapeSdParam('a"b\\c]d[e=f')).toBe('a\\"b\\\\c\\]d[e=f');
    const message = syslogMessage(formatted({ organizationId: 'o"r]g\\' }), {
      ...HEADER,
      enterpriseId: '99.1',
    });
    expect(message).toContain(
      '[audit@99.1 id="0193a5f0-0000-7000-8000-000000000001" org="o\\"r\\]g\\\\" seq="12"]',
    );
  });

  it('puts a UTF-8 BOM before MSG only when it is not pure ASCII', () => {
    expect(syslogMessage(formatted({}, 'plain'), HEADER).endsWith('] plain')).toBe(true);
    expect(syslogMessage(formatted({}, 'héllo'), HEADER).endsWith('] \ufeffhéllo')).toBe(true);
    const bytes = octetCountedFrame(syslogMessage(formatted({}, 'é'), HEADER));
    expect(bytes.subarray(bytes.length - 5)).toEqual(Buffer.from([0xef, 0xbb, 0xbf, 0xc3, 0xa9]));
  });

  it('keeps header fields printable ASCII, bounded, `-` when empty', () => {
    expect(headerField('user update\n', 32)).toBe('user_update_');
    expect(headerField('x'.repeat(40), 32)).toHaveLength(32);
    expect(headerField('', 48)).toBe('-');
    expect(syslogMessage(formatted({ action: 'exportée now' }), HEADER)).toContain(' - export_e_now [audit@');
    expect(syslogMessage(formatted({ occurredAt: 'yesterday' }), HEADER)).toMatch(/^<110>1 - api-1 /);
  });

  it('frames with octet counting: the byte length (not characters) and a space', () => {
    const frame = octetCountedFrame('<110>1 é 😀');
    const [count, ...rest] = frame.toString('utf8').split(' ');
    expect(Number(count)).toBe(Buffer.byteLength(rest.join(' '), 'utf8'));
    expect(Number(count)).toBe(14); // 6 + 1 + 2 (é) + 1 + 4 (😀)
    expect(frame.toString('utf8')).toBe('14 <110>1 é 😀');
  });
});

describe('syslog sink: failures', () => {
  const failure = (code: string) => syslogFailure(Object.assign(new Error('x'), { code }), 'tls://h:6514');

  it('pauses on certificate problems, naming the setting to fix', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ])
      expect(failure(code)).toMatchObject({
        failure: 'pause',
        message: expect.stringContaining('settings.ca'),
      });
    expect(failure('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')).toMatchObject({
      failure: 'pause',
      message: expect.stringContaining('settings.cert'),
    });
    expect(failure('ERR_SSL_WRONG_VERSION_NUMBER').failure).toBe('pause');
  });

  it('retries when the receiver is down, resets or cannot be reached', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'])
      expect(failure(code).failure).toBe('retry');
  });
});

describe('syslog sink: settings', () => {
  const validate = (settings: Record<string, unknown>, secret: Record<string, string> = {}) =>
    syslogKind.validate(settings, secret);

  it('accepts a host alone, and every setting in range', () => {
    expect(validate({ host: 'siem.example.com' })).toEqual([]);
    expect(
      validate({
        host: '10.0.0.5',
        port: 6514,
        tls: true,
        facility: 'local4',
        appName: 'billing-api',
        hostname: 'api-1.example.com',
        enterpriseId: '32473.7',
        servername: 'siem.example.com',
        timeoutMs: 5000,
        maxBatchEvents: 100,
        maxMessageBytes: 8192,
      }),
    ).toEqual([]);
  });

  it.each<[Record<string, unknown>, string]>([
    [{}, 'settings.host is required'],
    [{ host: 'tcp://siem:514' }, 'settings.host must be'],
    [{ host: 'siem', port: 70000 }, 'settings.port'],
    [{ host: 'siem', port: '514' }, 'settings.port'],
    [{ host: 'siem', tls: 'yes' }, 'settings.tls'],
    [{ host: 'siem', facility: 24 }, 'settings.facility'],
    [{ host: 'siem', facility: 'security' }, 'settings.facility'],
    [{ host: 'siem', appName: 'has space' }, 'settings.appName'],
    [{ host: 'siem', appName: 'a'.repeat(49) }, 'settings.appName'],
    [{ host: 'siem', hostname: 'héllo' }, 'settings.hostname'],
    [{ host: 'siem', enterpriseId: 'acme' }, 'settings.enterpriseId'],
    [{ host: 'siem', ca: 'x' }, 'settings.ca needs settings.tls'],
    [{ host: 'siem', tls: true, ca: 'not a pem' }, 'settings.ca must be'],
    [{ host: 'siem', tls: true, cert: 'not a pem' }, 'settings.cert must be'],
    [{ host: 'siem', tls: true, servername: 'a b' }, 'settings.servername'],
    [{ host: 'siem', timeoutMs: 10 }, 'settings.timeoutMs'],
    [{ host: 'siem', maxMessageBytes: 100 }, 'settings.maxMessageBytes'],
    [{ host: 'siem', tsl: true }, 'settings.tsl is not a syslog setting'],
    [
      { host: 'siem', tls: true, rejectUnauthorized: false },
      'settings.rejectUnauthorized is not a syslog setting',
    ],
  ])('rejects %j naming the field', (settings, problem) => {
    expect(validate(settings)).toEqual(expect.arrayContaining([expect.stringContaining(problem)]));
  });

  it('wants secret.key with settings.cert, and no other secret', () => {
    expect(validate({ host: 'siem', tls: true, cert: 'x' })).toEqual(
      expect.arrayContaining([expect.stringContaining('secret.key is required')]),
    );
    expect(validate({ host: 'siem' }, { key: 'x' })).toEqual([
      expect.stringContaining('secret.key needs settings.cert'),
    ]);
    expect(validate({ host: 'siem' }, { token: 'x' })).toEqual([expect.stringContaining('secret.token')]);
  });

  it('names the host it connects to', () => {
    expect(syslogKind.hosts({ host: 'siem.example.com', port: 514 })).toEqual(['siem.example.com']);
    expect(syslogKind.hosts({})).toEqual([]);
  });
});
