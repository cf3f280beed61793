import { ArchiveQuery, ArchiveQueryResult } from '../archive';

export interface QueryArchiveOptions {
  org?: string;
  from?: string;
  to?: string;
  action?: string;
  actor?: string;
  resourceType?: string;
  resourceId?: string;
  format?: string;
  limit?: string;
}

export type OutputFormat = 'ndjson' | 'csv' | 'table';

/** Bad arguments of `query-archive`, each named (exit code 2). */
export class QueryArgumentsError extends Error {
  constructor(readonly problems: string[]) {
    super(`query-archive: ${problems.join('; ')}`);
    this.name = 'QueryArgumentsError';
  }
}

const MAX_LIMIT = 1_000_000;

/** ISO 8601 with a date at least (`2025-01`, `2025-01-15`, `2025-01-15T10:00:00Z`); else null. */
function isoDate(value: string | undefined): Date | null {
  if (!value || !/^\d{4}-\d\d(-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?)?$/.test(value)) return null;
  const date = new Date(value.length === 7 ? `${value}-01T00:00:00Z` : value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Checks every argument, reporting all problems at once. */
export function parseQueryArchive(options: QueryArchiveOptions): {
  query: ArchiveQuery;
  format: OutputFormat;
} {
  const problems: string[] = [];
  if (options.org === undefined) problems.push('--org <id> is required ("" for events without one)');
  const from = isoDate(options.from);
  const to = isoDate(options.to);
  if (!from) problems.push('--from must be an ISO 8601 date or instant (2025-01-01 or 2025-01-01T00:00:00Z)');
  if (!to) problems.push('--to must be an ISO 8601 date or instant (exclusive end)');
  if (from && to && from >= to) problems.push('--from must be before --to');
  const format = (options.format ?? 'table') as OutputFormat;
  if (!['ndjson', 'csv', 'table'].includes(format)) problems.push('--format must be ndjson, csv or table');
  const limit = options.limit === undefined ? 1000 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    problems.push(`--limit must be an integer from 1 to ${MAX_LIMIT}`);
  for (const [flag, value] of [
    ['--action', options.action],
    ['--actor', options.actor],
    ['--resource-type', options.resourceType],
    ['--resource-id', options.resourceId],
  ] as const)
    if (value !== undefined && value.length === 0) problems.push(`${flag} must not be empty`);
  if (problems.length > 0) throw new QueryArgumentsError(problems);
  return {
    query: {
      organizationId: options.org === '' ? null : options.org!,
      from: from!,
      to: to!,
      action: options.action,
      actorId: options.actor,
      resourceType: options.resourceType,
      resourceId: options.resourceId,
      limit,
    },
    format,
  };
}

const TABLE_COLUMNS = [
  'occurred_at',
  'id',
  'actor_id',
  'action',
  'event_type',
  'resource_type',
  'resource_id',
  'status',
];

/** The rows as NDJSON (every column), CSV (every column, JSON columns as JSON text) or a compact table. */
export function formatRows(result: ArchiveQueryResult, format: OutputFormat): string {
  if (format === 'ndjson') return result.rows.map((row) => `${JSON.stringify(row)}\n`).join('');
  if (format === 'csv') {
    const cell = (value: unknown) => {
      if (value === null || value === undefined) return '';
      const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
      return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
    };
    const lines = [
      result.columns.join(','),
      ...result.rows.map((row) => result.columns.map((c) => cell(row[c])).join(',')),
    ];
    return `${lines.join('\n')}\n`;
  }
  const rows = result.rows.map((row) => TABLE_COLUMNS.map((c) => (row[c] === null ? '' : String(row[c]))));
  const widths = TABLE_COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    line(TABLE_COLUMNS),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `(${rows.length} events)`,
  ]
    .join('\n')
    .concat('\n');
}
