import { StreamEvent } from '../streaming.types';
import { bounded, cefProductVersion, escapeCefHeader, escapeCefValue, toCefLine } from './cef';

type View = StreamEvent['event'];

function streamEvent(overrides: Partial<View> = {}, sealSeq = '7'): StreamEvent {
  const event: View = {
    id: '0193a5f0-0000-7000-8000-000000000001',
    occurredAt: '2026-12-07T15:04:05.678Z',
    organizationId: 'org_1',
    actorId: 'user_42',
    actorType: 'user',
    action: 'update',
    eventType: 'invoice.update',
    resourceType: 'invoice',
    resourceId: 'inv_9',
    before: { total: 10 },
    after: { total: 12 },
    changes: [
      { path: 'total', before: 10, after: 12 },
      { path: 'address.city', before: 'A', after: 'B' },
    ],
    status: 'success',
    statusCode: 200,
    errorMessage: null,
    severity: 'info',
    requestId: 'req-1',
    reason: 'customer asked',
    transactionId: '4711',
    ip: '203.0.113.9',
    userAgent: 'curl/8.5',
    route: '/invoices/:id',
    method: 'PATCH',
    durationMs: 12,
    metadata: null,
    ...overrides,
  } as View;
  return { event, orgKey: event.organizationId ?? '', sealSeq };
}

/**
 * A CEF reader written from the spec, independent of the writer: the header splits at unescaped `|`,
 * the extension at ` key=` (a key is alphanumeric; `=` in values is always escaped).
 */
function parseCef(line: string): { header: string[]; extension: Record<string, string> } {
  const header: string[] = [];
  let field = '';
  let i = 0;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i];
    if (c === '\\' && (line[i + 1] === '\\' || line[i + 1] === '|')) field += line[++i];
    else if (c === '|') {
      header.push(field);
      field = '';
    } else field += c;
  }
  const rest = line.slice(i);
  const extension: Record<string, string> = {};
  // A key is alphanumeric right before `=`; a value's `=` is escaped (`\=`), so it never matches here.
  const keys = [...rest.matchAll(/(?:^| )([A-Za-z0-9]+)=/g)];
  keys.forEach((match, k) => {
    const start = match.index + match[0].length;
    const end = k + 1 < keys.length ? keys[k + 1].index : rest.length;
    extension[match[1]] = unescapeValue(rest.slice(start, end));
  });
  return { header, extension };
}

function unescapeValue(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

const HOSTILE = 'a|b=c\\d\ne\r\nf \\= \\| héllo 日本 \ud83d\ude00 cs1=forged';

describe('CEF format', () => {
  it('writes the header: version 0, vendor, product, version, signature id, name, severity', () => {
    const line = toCefLine(streamEvent());
    const { header, extension } = parseCef(line);
    expect(header).toEqual([
      'CEF:0',
      'nest-audit-trail',
      'audit-trail',
      cefProductVersion(),
      'invoice.update',
      'update invoice inv_9',
      '3',
    ]);
    expect(cefProductVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(line).not.toMatch(/[\r\n]/);
    expect(extension).toEqual({
      rt: String(Date.parse('2026-12-07T15:04:05.678Z')),
      externalId: '0193a5f0-0000-7000-8000-000000000001',
      suser: 'user_42',
      act: 'update',
      outcome: 'success',
      src: '203.0.113.9',
      requestMethod: 'PATCH',
      request: '/invoices/:id',
      requestClientApplication: 'curl/8.5',
      cs1Label: 'organization',
      cs1: 'org_1',
      cs2Label: 'resourceType',
      cs2: 'invoice',
      cs3Label: 'resourceId',
      cs3: 'inv_9',
      cs4Label: 'requestId',
      cs4: 'req-1',
      cs5Label: 'reason',
      cs5: 'customer asked',
      cn1Label: 'chainSeq',
      cn1: '7',
      msg: 'changed: total, address.city',
    });
  });

  it('maps severities to 0-10 and falls back to the action for the signature id', () => {
    const severities = ['info', 'notice', 'warning', 'critical'].map(
      (severity) => parseCef(toCefLine(streamEvent({ severity }))).header[6],
    );
    expect(severities).toEqual(['3', '5', '7', '10']);
    expect(parseCef(toCefLine(streamEvent({ eventType: '' }))).header[4]).toBe('update');
  });

  it('leaves absent values out with their labels, and says when the action failed', () => {
    const line = toCefLine(
      streamEvent({
        organizationId: null,
        actorId: null,
        resourceId: null,
        requestId: null,
        reason: null,
        ip: null,
        userAgent: null,
        changes: null,
        status: 'failure',
        errorMessage: 'Conflict: version',
      }),
    );
    const { header, extension } = parseCef(line);
    expect(header[5]).toBe('update invoice (failed)');
    for (const key of [
      'cs1Label',
      'cs1',
      'suser',
      'src',
      'cs3Label',
      'cs4',
      'cs5',
      'requestClientApplication',
    ])
      expect(extension[key]).toBeUndefined();
    expect(extension).toMatchObject({ outcome: 'failure', msg: 'error: Conflict: version', cn1: '7' });
  });

  it('escapes header fields: backslash and pipe; line breaks become spaces', () => {
    expect(escapeCefHeader('a|b\\c')).toBe('a\\|b\\\\c');
    expect(escapeCefHeader('a\r\nb=c')).toBe('a  b=c');
    const { header } = parseCef(toCefLine(streamEvent({ eventType: HOSTILE, resourceType: 'x|y' })));
    expect(header).toHaveLength(7);
    expect(header[4]).toBe(HOSTILE.replace(/[\r\n]/g, ' '));
    expect(header[5]).toBe('update x|y inv_9');
    expect(header[6]).toBe('3');
  });

  it('escapes extension values: backslash, equals, \\n and \\r; pipes and non-ASCII as they are', () => {
    expect(escapeCefValue('a=b\\c|d\ne\rf')).toBe('a\\=b\\\\c|d\\ne\\rf');
    expect(escapeCefValue('tab\there\u0000')).toBe('tab here ');
    const line = toCefLine(
      streamEvent({ actorId: HOSTILE, reason: HOSTILE, route: '/a?b=c&d=\\', organizationId: 'org=1 cs2=x' }),
    );
    expect(line).not.toMatch(/[\r\n]/);
    const { extension } = parseCef(line);
    // A value that looks like `key=` cannot inject a field: its `=` is escaped.
    expect(extension).toMatchObject({
      suser: HOSTILE,
      cs5: HOSTILE,
      request: '/a?b=c&d=\\',
      cs1: 'org=1 cs2=x',
      cs2: 'invoice',
    });
    expect(extension.cs1).toBe('org=1 cs2=x');
  });

  it('puts IPv4 in src (unwrapping IPv4-mapped IPv6) and IPv6 in c6a2', () => {
    expect(parseCef(toCefLine(streamEvent({ ip: '::ffff:10.0.0.1' }))).extension.src).toBe('10.0.0.1');
    const v6 = parseCef(toCefLine(streamEvent({ ip: '2001:db8::1' }))).extension;
    expect(v6).toMatchObject({ c6a2Label: 'Source IPv6 Address', c6a2: '2001:db8::1' });
    expect(v6.src).toBeUndefined();
  });

  it('bounds long values at a code point and msg to 1023 characters', () => {
    const changes = Array.from({ length: 500 }, (_, i) => ({ path: `field_${i}`, before: 1, after: 2 }));
    const { extension } = parseCef(toCefLine(streamEvent({ changes, reason: '😀'.repeat(3000) })));
    expect(extension.msg.length).toBeLessThanOrEqual(1023);
    expect(extension.msg).toMatch(/^changed: field_0, field_1, .*…$/);
    expect(extension.cs5.length).toBeLessThanOrEqual(4000);
    expect(extension.cs5).toMatch(/^(😀)+…$/u);
    expect(bounded('ab😀', 3)).toBe('ab…');
    expect(bounded('abc', 3)).toBe('abc');
  });
});
