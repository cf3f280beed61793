import { AUDIT_EVENT_COLUMNS, encodeEvent, escapeCopyText, eventValues } from './copy-format';
import { AuditEvent } from './audit.types';

const event = (overrides: Partial<AuditEvent> = {}): AuditEvent => ({
  id: '01960000-0000-7000-8000-000000000001',
  occurredAt: new Date('2026-03-01T12:34:56.789Z'),
  organizationId: 'org-1',
  actorId: 'user-1',
  actorType: 'user',
  action: 'update',
  eventType: 'account.update',
  resourceType: 'account',
  resourceId: 'acc-1',
  before: { plan: 'free' },
  after: { plan: 'pro' },
  changes: [{ path: 'plan', before: 'free', after: 'pro' }],
  status: 'success',
  statusCode: 200,
  errorMessage: null,
  severity: 'info',
  requestId: 'req-1',
  ip: '203.0.113.7',
  userAgent: 'curl/8.5.0',
  route: '/accounts/:id',
  method: 'PATCH',
  durationMs: 12,
  metadata: { source: 'api' },
  ...overrides,
});

/** What Postgres reads back from one COPY text field. */
const unescapeCopyText = (field: string): string =>
  field.replace(/\\(.)/g, (_, ch: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[ch] ?? ch);

/** The fields of one encoded line, by column name. */
function fields(line: string): Record<(typeof AUDIT_EVENT_COLUMNS)[number], string> {
  const values = line.slice(0, -1).split('\t');
  return Object.fromEntries(AUDIT_EVENT_COLUMNS.map((column, i) => [column, values[i]])) as never;
}

describe('escapeCopyText', () => {
  it('leaves ordinary text unchanged', () => {
    expect(escapeCopyText('plain text, with "quotes" and ünïcode')).toBe(
      'plain text, with "quotes" and ünïcode',
    );
  });

  it.each([
    ['a\\b', 'a\\\\b'],
    ['a\tb', 'a\\tb'],
    ['a\nb', 'a\\nb'],
    ['a\rb', 'a\\rb'],
    ['\\\t\n\r', '\\\\\\t\\n\\r'],
  ])('escapes %j as %j', (input, expected) => {
    expect(escapeCopyText(input)).toBe(expected);
    expect(unescapeCopyText(escapeCopyText(input))).toBe(input);
  });
});

describe('encodeEvent', () => {
  it('writes one newline-terminated line with one tab-separated field per column', () => {
    const line = encodeEvent(event({ errorMessage: 'multi\nline\terror' }));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(line.slice(0, -1).split('\t')).toHaveLength(AUDIT_EVENT_COLUMNS.length);
  });

  it('writes each field in its column', () => {
    const row = fields(encodeEvent(event()));
    expect(row).toEqual({
      id: '01960000-0000-7000-8000-000000000001',
      occurred_at: '2026-03-01T12:34:56.789Z',
      organization_id: 'org-1',
      actor_id: 'user-1',
      actor_type: 'user',
      action: 'update',
      event_type: 'account.update',
      resource_type: 'account',
      resource_id: 'acc-1',
      before: '{"plan": "free"}',
      after: '{"plan": "pro"}',
      changes: '[{"path": "plan", "after": "pro", "before": "free"}]',
      status: 'success',
      status_code: '200',
      error_message: '\\N',
      severity: 'info',
      request_id: 'req-1',
      ip: '203.0.113.7',
      user_agent: 'curl/8.5.0',
      route: '/accounts/:id',
      method: 'PATCH',
      duration_ms: '12',
      metadata: '{"source": "api"}',
      event_hash: expect.stringMatching(/^\\\\x[0-9a-f]{64}$/),
    });
  });

  it('writes nulls as \\N, and a text that reads "\\N" as something else', () => {
    const row = fields(
      encodeEvent(
        event({
          organizationId: null,
          before: null,
          changes: null,
          statusCode: null,
          durationMs: null,
          resourceId: '\\N',
        }),
      ),
    );
    expect(row.organization_id).toBe('\\N');
    expect(row.before).toBe('\\N');
    expect(row.changes).toBe('\\N');
    expect(row.status_code).toBe('\\N');
    expect(row.duration_ms).toBe('\\N');
    expect(row.resource_id).not.toBe('\\N');
    expect(unescapeCopyText(row.resource_id)).toBe('\\N');
  });

  it('escapes JSON so that Postgres reads back the original JSON', () => {
    const after = { path: 'C:\\temp\\new', note: 'line 1\nline 2\r\n\tindented', quote: 'say "hi"' };
    const row = fields(encodeEvent(event({ after })));
    expect(row.after).not.toMatch(/[\t\n\r]/);
    expect(unescapeCopyText(row.after)).toBe(
      '{"note": "line 1\\nline 2\\r\\n\\tindented", "path": "C:\\\\temp\\\\new", "quote": "say \\"hi\\""}',
    );
    expect(JSON.parse(unescapeCopyText(row.after))).toEqual(after);
  });

  it('escapes free text fields so that Postgres reads back the original text', () => {
    const errorMessage = 'failed:\n\tat C:\\app\\main.ts';
    const row = fields(encodeEvent(event({ errorMessage })));
    expect(unescapeCopyText(row.error_message)).toBe(errorMessage);
  });

  it('replaces NUL characters and lone surrogates in text fields with U+FFFD', () => {
    const row = fields(
      encodeEvent(event({ errorMessage: 'bad\u0000value', userAgent: '\ud800agent', resourceId: 'a\u0000' })),
    );
    expect(row.error_message).toBe('bad\ufffdvalue');
    expect(row.user_agent).toBe('\ufffdagent');
    expect(row.resource_id).toBe('a\ufffd');
  });

  it('writes integer columns without a fractional part', () => {
    const row = fields(encodeEvent(event({ durationMs: 12.7 })));
    expect(row.duration_ms).toBe('12');
  });
});

describe('eventValues', () => {
  it('lists the same values as encodeEvent, in the column order', () => {
    const sample = event({ errorMessage: 'boom' });
    const asCopyText = eventValues(sample).map((value) =>
      value === null
        ? '\\N'
        : value instanceof Date
          ? value.toISOString()
          : Buffer.isBuffer(value)
            ? `\\\\x${value.toString('hex')}`
            : String(value).replaceAll('\\', '\\\\'),
    );
    expect(asCopyText).toEqual(encodeEvent(sample).slice(0, -1).split('\t'));
  });

  it('replaces NUL characters in text fields, as encodeEvent does', () => {
    const values = eventValues(event({ errorMessage: 'bad\u0000value', userAgent: '\u0000agent' }));
    expect(values[AUDIT_EVENT_COLUMNS.indexOf('error_message')]).toBe('bad\ufffdvalue');
    expect(values[AUDIT_EVENT_COLUMNS.indexOf('user_agent')]).toBe('\ufffdagent');
  });
});
