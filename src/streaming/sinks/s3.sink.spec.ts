import { FormattedEvent, OutboundBatch, StreamEvent } from '../streaming.types';
import { NO_ORGANIZATION, partitionValue, s3Objects } from './s3.sink';

function event(orgKey: string, sealSeq: string, occurredAt: string, id: string): FormattedEvent {
  const source = { orgKey, sealSeq, event: { id, occurredAt } } as unknown as StreamEvent;
  return { source, record: null, text: `{"id":"${id}"}` };
}

describe('S3 object keys', () => {
  const batch: OutboundBatch = {
    deliveryId: 'delivery-1',
    events: [
      event('org-a', '7', '2026-12-07T10:59:59.999Z', 'a1'),
      event('org/b=c', '3', '2026-12-07T10:10:00.000Z', 'b1'),
      event('org-a', '8', '2026-12-07T11:00:00.000Z', 'a2'),
      event('org-a', '8', '2026-12-07T10:59:59.999Z', 'a3'),
      event('', '1', '2026-12-31T23:30:00.000Z', 'n1'),
    ],
  };

  it('one object per organization and UTC hour, events in batch order, Hive-style and sortable keys', () => {
    const objects = s3Objects('siem/audit/', batch, true);
    expect(
      objects.map((o) => [
        o.key.replace(/-[0-9a-f]{12}\./, '-HASH.'),
        o.events.map((e) => e.source.event.id),
      ]),
    ).toEqual([
      [
        'siem/audit/org=org-a/dt=2026-12-07/hour=10/00000000000000000007-00000000000000000008-HASH.ndjson.gz',
        ['a1', 'a3'],
      ],
      [
        'siem/audit/org=org%2Fb%3Dc/dt=2026-12-07/hour=10/00000000000000000003-00000000000000000003-HASH.ndjson.gz',
        ['b1'],
      ],
      [
        'siem/audit/org=org-a/dt=2026-12-07/hour=11/00000000000000000008-00000000000000000008-HASH.ndjson.gz',
        ['a2'],
      ],
      [
        `siem/audit/org=${NO_ORGANIZATION}/dt=2026-12-31/hour=23/00000000000000000001-00000000000000000001-HASH.ndjson`.concat(
          '.gz',
        ),
        ['n1'],
      ],
    ]);
  });

  it('the same batch makes the same keys; another delivery id, other keys; no prefix, no leading slash', () => {
    expect(s3Objects('p', batch, false).map((o) => o.key)).toEqual(
      s3Objects('p', batch, false).map((o) => o.key),
    );
    const other = s3Objects('p', { ...batch, deliveryId: 'delivery-2' }, false).map((o) => o.key);
    expect(other.some((key) => s3Objects('p', batch, false).some((o) => o.key === key))).toBe(false);
    expect(s3Objects('', batch, false)[0].key).toMatch(/^org=org-a\/dt=/);
    expect(s3Objects('', batch, false)[0].key).toMatch(/\.ndjson$/);
  });

  it('escapes partition values reversibly', () => {
    for (const value of ['org/b=c', 'é ü', '..', 'a%b', 'plain-id_1.x'])
      expect(decodeURIComponent(partitionValue(value))).toBe(value);
    expect(partitionValue('..')).toBe('%2E%2E');
    expect(partitionValue('')).toBe(NO_ORGANIZATION);
  });
});
