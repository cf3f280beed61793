import { buildManifest, filesDigest, parseManifest } from '../archive-manifest';

const root = 'audit_events_p2025_01/0193a1b2-0000-7000-8000-000000000001/parquet';
const file = (org: string | null, rows: number, sha: string) => ({
  key: `${root}/org=${org ?? '__HIVE_DEFAULT_PARTITION__'}/month=2025-01/part-1.parquet`,
  compression: 'zstd' as const,
  rows,
  bytes: rows * 100,
  sha256: sha.repeat(64),
  partition: { org, month: '2025-01' },
});
const manifest = () =>
  buildManifest({
    archiveId: '0193a1b2-0000-7000-8000-000000000001',
    parent: 'audit_events_warm',
    partition: 'audit_events_p2025_01',
    from: new Date('2025-01-01T00:00:00Z'),
    to: new Date('2025-02-01T00:00:00Z'),
    columns: [{ name: 'id', type: 'uuid' }],
    rowOrder: ['id'],
    parquet: {
      root,
      columns: [{ name: 'id', type: 'UUID' }],
      files: [file(null, 2, 'a'), file('org-a', 3, 'b')],
    },
    tableBytes: 1000,
    createdAt: new Date('2025-03-01T00:00:00Z'),
  });

type Editable = { files: Array<Record<string, unknown>>; parquet: { columns: unknown[] } };

describe('Parquet manifests', () => {
  it('are schema version 2 with the files, their partitions and the digest of the list', () => {
    const built = manifest();
    expect(built).toMatchObject({ schemaVersion: 2, rowEncoding: 'parquet', rowCount: 5 });
    expect(built.parquet!.filesSha256).toBe(filesDigest(built.files));
    expect(parseManifest(JSON.stringify(built))).toEqual(built);
  });

  it.each([
    ['a file digest changed without the list digest', (m: Editable) => (m.files[0].sha256 = 'c'.repeat(64))],
    ['a row count changed', (m: Editable) => (m.files[1].rows = 4)],
    ['a key outside the folder', (m: Editable) => (m.files[0].key = `${root}/../../x.parquet`)],
    ['no partition', (m: Editable) => delete m.files[0].partition],
    ['other column types', (m: Editable) => m.parquet.columns.pop()],
  ])('are refused with %s', (_what, change) => {
    const changed = JSON.parse(JSON.stringify(manifest())) as Editable;
    change(changed);
    expect(() => parseManifest(JSON.stringify(changed))).toThrow(/invalid archive manifest/);
  });
});
