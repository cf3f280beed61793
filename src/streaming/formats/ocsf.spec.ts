import Ajv2020 from 'ajv/dist/2020';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamEvent } from '../streaming.types';
import { OCSF_VERSION, toOcsfRecord } from './ocsf';

// The JSON Schema of API Activity compiled from the official OCSF repository at the release we name
// (test/fixtures/ocsf/generate-schema.mjs): required attributes, types, enum ids, no attribute OCSF lacks.
const schemaFile = join(__dirname, '../../../test/fixtures/ocsf', `api_activity-${OCSF_VERSION}.schema.json`);
const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
const validate = new Ajv2020({ strict: true, strictRequired: false, allErrors: true }).compile(schema);

function problems(record: unknown): string[] {
  return validate(record) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

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
    before: { total: 10, email: 'pii:v1:AAAABBBBCCCC' },
    after: { total: 12, email: 'pii:v1:AAAABBBBCCCC' },
    changes: [{ path: 'total', before: 10, after: 12 }],
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
    metadata: { reason: 'customer asked', transactionId: '4711', source: 'api' },
    ...overrides,
  } as View;
  return { event, orgKey: event.organizationId ?? '', sealSeq };
}

const HOSTILE = `"'<script>alert(1)</script>\u0000\u001b[31m\r\n{"x":1}\\ ${'é'.repeat(3)} \ud83d\ude00`;

const cases: Array<[string, Partial<View>]> = [
  ['create', { action: 'create', before: null, changes: null, statusCode: 201, method: 'POST' }],
  ['read', { action: 'read', before: null, changes: null, method: 'GET' }],
  ['list', { action: 'list', resourceId: null, before: null, after: null, changes: null, method: 'GET' }],
  ['update', {}],
  ['delete', { action: 'delete', after: null, changes: null, method: 'DELETE', statusCode: 204 }],
  ['custom action', { action: 'export', eventType: 'report.export', severity: 'notice' }],
  [
    'failure',
    {
      status: 'failure',
      statusCode: 403,
      errorMessage: 'Forbidden',
      severity: 'warning',
      after: null,
      changes: null,
    },
  ],
  ['critical', { severity: 'critical', action: 'delete' }],
  ['no organization', { organizationId: null }],
  [
    'no actor (system job)',
    {
      actorId: null,
      actorType: 'system',
      ip: null,
      userAgent: null,
      route: null,
      method: null,
      requestId: null,
      statusCode: null,
      durationMs: null,
    },
  ],
  ['anonymous', { actorId: null, actorType: 'anonymous' }],
  ['service actor', { actorType: 'service', actorId: 'svc-billing' }],
  ['no resource', { resourceType: null, resourceId: null, before: null, after: null, changes: null }],
  ['IPv6 and mapped IPv4', { ip: '::ffff:127.0.0.1' }],
  ['not an IP', { ip: 'unknown, 10.0.0.1' }],
  ['unusual method', { method: 'PROPFIND' }],
  ['lowercase method', { method: 'patch' }],
  ['no metadata', { metadata: null, reason: null, transactionId: null }],
  [
    'hostile strings everywhere',
    {
      actorId: HOSTILE,
      action: HOSTILE,
      eventType: HOSTILE,
      resourceType: HOSTILE,
      resourceId: HOSTILE,
      errorMessage: HOSTILE,
      requestId: HOSTILE,
      userAgent: HOSTILE,
      route: HOSTILE,
      method: HOSTILE,
      reason: HOSTILE,
      ip: HOSTILE,
      metadata: { [HOSTILE]: HOSTILE, nested: { deep: [HOSTILE, 1, null, true] } },
      before: { [HOSTILE]: HOSTILE },
      after: HOSTILE as never,
    },
  ],
  ['personal tokens', { actorId: 'pii:v1:ZZZZ', resourceId: 'pii:v1:YYYY', after: { email: 'pii:v1:XXXX' } }],
];

describe('toOcsfRecord', () => {
  it('names the version of the schema fixture it is checked against', () => {
    expect(schema.title).toBe(`OCSF ${OCSF_VERSION} API Activity (class_uid 6003)`);
    expect(schema.$comment).toContain(`ref refs/tags/${OCSF_VERSION}`);
  });

  it.each(cases)(`validates against the OCSF ${OCSF_VERSION} API Activity schema: %s`, (_name, overrides) => {
    const record = toOcsfRecord(streamEvent(overrides));
    expect(problems(record)).toEqual([]);
    // What went out survives JSON as the same record (no undefined, no non-JSON values).
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
  });

  it('validates every combination of action, status, severity, actor, organization and source', () => {
    const failures: string[] = [];
    let checked = 0;
    for (const action of ['create', 'read', 'list', 'update', 'delete', 'login', 'revert'])
      for (const status of ['success', 'failure'] as const)
        for (const severity of ['info', 'notice', 'warning', 'critical'] as const)
          for (const [actorId, actorType] of [
            ['u1', 'user'],
            [null, 'system'],
            ['svc', 'service'],
            [null, 'anonymous'],
          ] as const)
            for (const organizationId of ['org_1', null])
              for (const ip of ['10.0.0.1', 'fe80::1%eth0', null]) {
                const record = toOcsfRecord(
                  streamEvent(
                    { action, status, severity, actorId, actorType, organizationId, ip },
                    String(++checked),
                  ),
                );
                const found = problems(record);
                if (found.length)
                  failures.push(`${action}/${status}/${severity}/${actorType}/${ip}: ${found.join('; ')}`);
              }
    expect(checked).toBe(7 * 2 * 4 * 4 * 2 * 3);
    expect(failures).toEqual([]);
  });

  it('maps actions to activity ids and type_uid = class_uid * 100 + activity_id', () => {
    const ids = Object.fromEntries(
      ['create', 'read', 'list', 'update', 'delete', 'login'].map((action) => {
        const record = toOcsfRecord(streamEvent({ action }));
        expect(record.type_uid).toBe(6003 * 100 + (record.activity_id as number));
        return [action, record.activity_id];
      }),
    );
    expect(ids).toEqual({ create: 1, read: 2, list: 2, update: 3, delete: 4, login: 99 });
    expect(toOcsfRecord(streamEvent({ action: 'login' })).activity_name).toBe('login');
  });

  it('maps the event: class, severity, status, time, metadata, actor, api, http, endpoint, resource, unmapped', () => {
    const record = toOcsfRecord(streamEvent({ severity: 'warning' }, '123'));
    expect(record).toMatchObject({
      class_uid: 6003,
      category_uid: 6,
      severity_id: 3,
      status_id: 1,
      status: 'Success',
      status_code: '200',
      time: Date.parse('2026-12-07T15:04:05.678Z'),
      metadata: {
        version: OCSF_VERSION,
        product: { name: 'nest-audit-trail', vendor_name: 'nest-audit-trail' },
        uid: '0193a5f0-0000-7000-8000-000000000001',
        correlation_uid: 'req-1',
        tenant_uid: 'org_1',
        sequence: 123,
        original_time: '2026-12-07T15:04:05.678Z',
      },
      actor: { user: { uid: 'user_42', type: 'user', type_id: 1 } },
      api: { operation: 'update', request: { uid: 'req-1' }, response: { code: 200 } },
      http_request: { http_method: 'PATCH', url: { path: '/invoices/:id' }, user_agent: 'curl/8.5' },
      src_endpoint: { ip: '203.0.113.9' },
      resources: [
        {
          type: 'invoice',
          uid: 'inv_9',
          data: {
            before: { total: 10, email: 'pii:v1:AAAABBBBCCCC' },
            after: { total: 12, email: 'pii:v1:AAAABBBBCCCC' },
            changes: [{ path: 'total', before: 10, after: 12 }],
          },
        },
      ],
      unmapped: {
        event_type: 'invoice.update',
        reason: 'customer asked',
        transaction_id: '4711',
        route: '/invoices/:id',
        metadata: { reason: 'customer asked', transactionId: '4711', source: 'api' },
      },
    });
    expect((record.metadata as { product: { version?: string } }).product.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('maps severities and failures', () => {
    const severities = ['info', 'notice', 'warning', 'critical'].map(
      (severity) => toOcsfRecord(streamEvent({ severity: severity as View['severity'] })).severity_id,
    );
    expect(severities).toEqual([1, 2, 3, 5]);
    const failed = toOcsfRecord(streamEvent({ status: 'failure', statusCode: 500, errorMessage: 'boom' }));
    expect(failed).toMatchObject({
      status_id: 2,
      status: 'Failure',
      status_detail: 'boom',
      api: { response: { code: 500, message: 'boom' } },
    });
  });

  it('keeps personal tokens and hostile strings as they came (nothing decrypted, nothing rewritten)', () => {
    const record = toOcsfRecord(
      streamEvent({ actorId: 'pii:v1:ZZZZ', userAgent: HOSTILE, resourceId: HOSTILE }),
    );
    expect(record.actor).toEqual({ user: { uid: 'pii:v1:ZZZZ', type: 'user', type_id: 1 } });
    expect((record.http_request as { user_agent: string }).user_agent).toBe(HOSTILE);
    expect((record.resources as Array<{ uid: string }>)[0].uid).toBe(HOSTILE);
    expect(JSON.stringify(record)).toContain('pii:v1:AAAABBBBCCCC');
  });

  it('names an actor without an id by its type, and puts what OCSF cannot hold under unmapped', () => {
    const record = toOcsfRecord(
      streamEvent({ actorId: null, actorType: 'system', ip: 'not-an-ip', method: 'PROPFIND' }),
    );
    expect(record.actor).toEqual({ user: { name: 'system', type: 'system', type_id: 3 } });
    expect(record.src_endpoint).toEqual({ name: 'unknown' });
    expect(record.unmapped).toMatchObject({ ip: 'not-an-ip', method: 'PROPFIND' });
    expect(record.http_request).not.toHaveProperty('http_method');
    expect(toOcsfRecord(streamEvent({ organizationId: null })).metadata).not.toHaveProperty('tenant_uid');
  });

  it('the schema refuses what OCSF refuses (so a passing validation means something)', () => {
    const good = toOcsfRecord(streamEvent());
    expect(problems(good)).toEqual([]);
    const without = (key: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== key));
    expect(problems(without('actor'))).toContain("/ must have required property 'actor'");
    expect(problems(without('src_endpoint'))).toContain("/ must have required property 'src_endpoint'");
    expect(problems({ ...good, chainSeq: '7' })).toContain('/ must NOT have additional properties');
    expect(problems({ ...good, activity_id: 5 }).join()).toContain(
      '/activity_id must be equal to one of the allowed values',
    );
    expect(problems({ ...good, type_uid: 600305 }).join()).toContain(
      '/type_uid must be equal to one of the allowed values',
    );
    expect(problems({ ...good, time: '2026-12-07T15:04:05Z' }).join()).toContain('/time must be integer');
    expect(problems({ ...good, status_code: 200 }).join()).toContain('/status_code must be string');
    expect(problems({ ...good, metadata: { ...(good.metadata as object), sequence: '7' } }).join()).toContain(
      '/metadata/sequence must be integer',
    );
    expect(problems({ ...good, actor: { user: { type: 'user' } } }).join()).toContain(
      '/actor/user must have required property',
    );
    expect(problems({ ...good, actor: { user: { uid: 'u', extra: 1 } } }).join()).toContain(
      '/actor/user must NOT have additional properties',
    );
    expect(problems({ ...good, src_endpoint: { ip: 'not-an-ip' } }).join()).toContain(
      '/src_endpoint/ip must match pattern',
    );
    expect(problems({ ...good, unmapped: { anything: { goes: [1] } } })).toEqual([]);
  });
});
