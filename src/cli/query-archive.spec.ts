import { formatRows, parseQueryArchive, QueryArgumentsError } from './query-archive';

const range = { org: 'org-a', from: '2025-01-01', to: '2025-02-01T00:00:00Z' };

describe('query-archive arguments and output', () => {
  it('parses a query with defaults (table, 1000 events)', () => {
    const { query, format } = parseQueryArchive({ ...range, actor: 'u1' });
    expect(format).toBe('table');
    expect(query).toMatchObject({
      organizationId: 'org-a',
      from: new Date('2025-01-01T00:00:00Z'),
      to: new Date('2025-02-01T00:00:00Z'),
      actorId: 'u1',
      limit: 1000,
    });
  });

  it('lists every bad argument at once', () => {
    let error: QueryArgumentsError | undefined;
    try {
      parseQueryArchive({ from: '2025-02-01', to: '2025-01-01', format: 'xml', limit: '0', action: '' });
    } catch (caught) {
      error = caught as QueryArgumentsError;
    }
    expect(error?.problems).toEqual([
      '--org <id> is required ("" for events without one)',
      '--from must be before --to',
      '--format must be ndjson, csv or table',
      '--limit must be an integer from 1 to 1000000',
      '--action must not be empty',
    ]);
  });

  it('prints NDJSON, CSV (quoted where needed) and a table', () => {
    const result = {
      columns: [
        'occurred_at',
        'id',
        'actor_id',
        'action',
        'event_type',
        'resource_type',
        'resource_id',
        'status',
        'after',
      ],
      rows: [
        {
          occurred_at: '2025-01-02T00:00:00.000000Z',
          id: 'e1',
          actor_id: 'u1',
          action: 'update',
          event_type: 'doc.update',
          resource_type: 'doc',
          resource_id: null,
          status: 'success',
          after: { title: 'a, "b"' },
        },
      ],
      archives: 1,
      files: 1,
    };
    expect(JSON.parse(formatRows(result, 'ndjson'))).toEqual(result.rows[0]);
    expect(formatRows(result, 'csv').split('\n')[1]).toBe(
      '2025-01-02T00:00:00.000000Z,e1,u1,update,doc.update,doc,,success,"{""title"":""a, \\""b\\""""}"',
    );
    const table = formatRows(result, 'table').split('\n');
    expect(table[0]).toMatch(/^occurred_at\s+id\s+actor_id\s+action/);
    expect(table[2]).toMatch(/^2025-01-02T00:00:00.000000Z\s+e1\s+u1\s+update\s+doc.update\s+doc\s+success$/);
    expect(table[3]).toBe('(1 events)');
  });
});
