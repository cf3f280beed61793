import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../../config';
import { jsonArrayLine, parquetSchema } from './parquet-columns';

const columns = [
  { name: 'id', type: 'uuid' },
  { name: 'occurred_at', type: 'timestamp with time zone' },
  { name: 'organization_id', type: 'text' },
  { name: 'after', type: 'jsonb' },
  { name: 'status_code', type: 'smallint' },
  { name: 'ip', type: 'inet' },
  { name: 'event_hash', type: 'bytea' },
];

describe('Parquet columns', () => {
  it('types each Postgres column (JSON as its text, unknown types as text)', () => {
    expect(parquetSchema(columns).map((c) => c.type)).toEqual([
      'UUID',
      'TIMESTAMPTZ',
      'VARCHAR',
      'VARCHAR',
      'SMALLINT',
      'VARCHAR',
      'BLOB',
    ]);
    expect(() => parquetSchema([{ name: 'org', type: 'text' }])).toThrow(/Hive partition key/);
  });

  it("renders a row back as the NDJSON archive's JSON array (real DuckDB)", async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run(`SET TimeZone = 'UTC'`);
      await connection.run(
        `CREATE TABLE t AS SELECT UUID '0193a1b2-0000-7000-8000-000000000001' AS id,
                TIMESTAMPTZ '2025-01-31 23:59:59.000123+01' AS occurred_at, 'a "q" \\ é' AS organization_id,
                '{"x": 1.50, "s": "line\\nbreak"}' AS after, CAST(NULL AS SMALLINT) AS status_code,
                '10.0.0.1' AS ip, from_hex('00ff') AS event_hash`,
      );
      const reader = await connection.runAndReadAll(`SELECT ${jsonArrayLine(columns)} FROM t`);
      const line = reader.getRowsJS()[0][0] as string;
      // The JSON column is embedded as stored (1.50 kept), strings escaped, bytea as Postgres' \x hex.
      expect(line).toContain('{"x": 1.50, "s": "line\\nbreak"}');
      expect(JSON.parse(line)).toEqual([
        '0193a1b2-0000-7000-8000-000000000001',
        '2025-01-31T22:59:59.000123+00:00',
        'a "q" \\ é',
        { x: 1.5, s: 'line\nbreak' },
        null,
        '10.0.0.1',
        '\\x00ff',
      ]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

describe('ARCHIVE_FORMAT', () => {
  it('accepts ndjson and parquet, and names a bad value at start-up', () => {
    expect(loadConfig({}).archive.format).toBe('ndjson');
    expect(loadConfig({ ARCHIVE_FORMAT: 'parquet' }).archive.format).toBe('parquet');
    expect(() => loadConfig({ ARCHIVE_FORMAT: 'orc' })).toThrow(
      /ARCHIVE_FORMAT must be "ndjson" or "parquet"/,
    );
  });
});
