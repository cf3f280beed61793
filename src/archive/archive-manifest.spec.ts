import {
  buildManifest,
  InvalidManifest,
  MANIFEST_SCHEMA_VERSION,
  parseManifest,
} from './archive-manifest';

const input = {
  archiveId: '0193a1b2-0000-7000-8000-000000000001',
  parent: 'audit_events_warm',
  partition: 'audit_events_p2025_01',
  from: new Date('2025-01-01T00:00:00Z'),
  to: new Date('2025-02-01T00:00:00Z'),
  columns: [
    { name: 'id', type: 'uuid' },
    { name: 'occurred_at', type: 'timestamp with time zone' },
  ],
  file: {
    key: 'audit_events_p2025_01/x/data.ndjson.gz',
    compression: 'gzip' as const,
    rows: 42,
    bytes: 1234,
    sha256: 'a'.repeat(64),
  },
  rowOrder: ['resource_type', 'resource_id', 'occurred_at', 'id'],
  tableBytes: 99999,
  createdAt: new Date('2026-03-01T00:00:00Z'),
};

describe('archive manifest', () => {
  it('carries the schema version, range, columns and the file checksum; round-trips through JSON', () => {
    const manifest = buildManifest(input);
    expect(manifest).toMatchObject({
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      rowCount: 42,
      source: { partition: 'audit_events_p2025_01', from: '2025-01-01T00:00:00.000Z' },
      files: [{ format: 'ndjson', compression: 'gzip', sha256: 'a'.repeat(64), bytes: 1234 }],
    });
    expect(manifest).not.toHaveProperty('integrity');
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
  });

  it('keeps the reserved integrity field when given', () => {
    const manifest = buildManifest({ ...input, integrity: { seal: 's1' } });
    expect(parseManifest(JSON.stringify(manifest)).integrity).toEqual({ seal: 's1' });
  });

  it.each([
    ['not JSON', 'nope', 'not JSON'],
    ['another schema version', { schemaVersion: 99 }, 'schemaVersion 99'],
    ['a malformed checksum', { files: [{ ...input.file, sha256: 'xyz' }] }, 'sha256'],
    ['a row count differing from its file', { rowCount: 41 }, 'rowCount'],
    ['an unknown compression', { files: [{ ...input.file, compression: 'lz4' }] }, 'compression'],
  ])('refuses %s', (_label, change, message) => {
    const text = typeof change === 'string' ? change : JSON.stringify({ ...buildManifest(input), ...change });
    expect(() => parseManifest(text)).toThrow(InvalidManifest);
    expect(() => parseManifest(text)).toThrow(message);
  });
});
