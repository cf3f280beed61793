import { DataSource } from 'typeorm';
import { AsOfRepository } from '../../src/query/as-of.repository';
import { AsOfService } from '../../src/query/as-of.service';
import { EventsRepository } from '../../src/query/events.repository';
import { StatsRepository } from '../../src/query/stats.repository';
import { HistoryOrganization, HistoryResource } from '../lib/event-history';
import { VersionedResource } from './versioned';

/** The API asks the repositories for one row more than the page size, to know whether there is a next page. */
const PAGE = 50 + 1;

/** A statement as a repository sent it. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/** The random choices of one repetition: every query of the rep uses them. */
export interface Picks {
  org: HistoryOrganization;
  actor: { id: string; org: HistoryOrganization };
  resource: { resource: HistoryResource; org: HistoryOrganization };
  event: { id: string; organizationId: string };
  word: string;
  action: string;
  resourceType: string;
  from: Date;
  to: Date;
  /** Two instants inside the as-of record's history, in order. */
  instants: [Date, Date];
}

export interface QuerySpec {
  name: string;
  description: string;
  /** The organization the query is scoped to (for reporting the size of the tenant behind a slow rep). */
  orgOf(picks: Picks): HistoryOrganization | string;
  /** Runs the repository method; returns the rows it answered. */
  run(picks: Picks): Promise<number>;
}

/**
 * Remembers the last statement sent through `dataSource.query` (every repository method here issues
 * exactly one), so EXPLAIN runs the very SQL and parameters the repository produced.
 */
export function recordStatements(dataSource: DataSource): () => Statement | null {
  const original = dataSource.query.bind(dataSource);
  let last: Statement | null = null;
  dataSource.query = ((sql: string, params?: unknown[], ...rest: unknown[]) => {
    last = { sql, params: params ?? [] };
    return (original as (...args: unknown[]) => Promise<unknown>)(sql, params, ...rest);
  }) as DataSource['query'];
  return () => last;
}

/** The admin API's reads, as EventsService / StatsService call the repositories. */
export function querySpecs(events: EventsRepository, stats: StatsRepository): QuerySpec[] {
  return [
    {
      name: 'org-recent',
      description: "an organization's newest events (GET /events, limit 50)",
      orgOf: (p) => p.org,
      run: async (p) => (await events.page({ organizationId: p.org.id }, null, PAGE)).length,
    },
    {
      name: 'filtered-90d',
      description: 'org + action + resourceType over the last 90 days',
      orgOf: (p) => p.org,
      run: async (p) =>
        (
          await events.page(
            {
              organizationId: p.org.id,
              action: p.action,
              resourceType: p.resourceType,
              from: p.from,
              to: p.to,
            },
            null,
            PAGE,
          )
        ).length,
    },
    {
      name: 'resource-history',
      description: "a resource's history, oldest first (GET /resources/:type/:id/history)",
      orgOf: (p) => p.resource.org,
      run: async (p) =>
        (
          await events.pageAscending(
            {
              organizationId: p.resource.org.id,
              resourceType: p.resource.resource.type,
              resourceId: p.resource.resource.id,
            },
            null,
            PAGE,
          )
        ).length,
    },
    {
      name: 'actor-activity',
      description: 'what one user did, newest first (GET /actors/:id/activity)',
      orgOf: (p) => p.actor.org,
      run: async (p) =>
        (await events.page({ organizationId: p.actor.org.id, actorId: p.actor.id }, null, PAGE)).length,
    },
    {
      name: 'search-90d',
      description: 'full-text q (one word of the states) in an org, last 90 days',
      orgOf: (p) => p.org,
      run: async (p) =>
        (await events.page({ organizationId: p.org.id, q: p.word, from: p.from, to: p.to }, null, PAGE))
          .length,
    },
    {
      name: 'search-all',
      description: 'full-text q in an org, whole range (no from/to)',
      orgOf: (p) => p.org,
      run: async (p) => (await events.page({ organizationId: p.org.id, q: p.word }, null, PAGE)).length,
    },
    {
      name: 'stats-by-day',
      description: 'GET /stats?groupBy=day, org, 90 days (materialized views)',
      orgOf: (p) => p.org,
      run: async (p) => (await stats.grouped('day', p.org.id, p.from, p.to)).length,
    },
    {
      name: 'stats-by-action',
      description: 'GET /stats?groupBy=action, org, 90 days (materialized views)',
      orgOf: (p) => p.org,
      run: async (p) => (await stats.grouped('action', p.org.id, p.from, p.to)).length,
    },
    {
      name: 'by-id',
      description: 'GET /events/:id (UUIDv7 pins the millisecond)',
      orgOf: (p) => p.event.organizationId,
      run: async (p) => ((await events.findById(p.event.id, p.event.organizationId)) ? 1 : 0),
    },
  ];
}

/**
 * The as-of reads on the record with a long history (versioned.ts), as AsOfService runs them: the count of
 * versions on one connection beside the backward probe on the resource index on another. The reveal is a
 * pass-through: the benchmark's states hold no encrypted values (with them, reveal costs one key query).
 */
export function asOfSpecs(dataSource: DataSource, record: VersionedResource): QuerySpec[] {
  const repository = new AsOfRepository(dataSource);
  const service = new AsOfService(repository, {
    reveal: async <T>(events: readonly T[]) => [...events],
  } as unknown as ConstructorParameters<typeof AsOfService>[1]);
  const scope = {
    organizationId: record.organizationId,
    resourceType: record.resourceType,
    resourceId: record.resourceId,
  };
  const label = `${record.versions.toLocaleString('en-US')}-version record`;
  return [
    {
      name: 'as-of',
      description: `GET /resources/:type/:id/as-of at a random instant, ${label} (count + probe)`,
      orgOf: () => record.organizationId,
      run: async (p) => ((await service.stateAt(scope, p.instants[1])).exists ? 1 : 0),
    },
    {
      name: 'as-of-probe',
      description: `the probe alone: newest state-bearing event at or before the instant, ${label}`,
      orgOf: () => record.organizationId,
      run: async (p) => (await repository.newestStateEvents(scope, p.instants[1], 1)).length,
    },
    {
      name: 'as-of-count',
      description: `versionsBefore alone: state-bearing events at or before the instant, ${label}`,
      orgOf: () => record.organizationId,
      run: async (p) => repository.countStateEvents(scope, p.instants[1]),
    },
    {
      name: 'as-of-diff',
      description: `GET /resources/:type/:id/diff between two random instants, ${label} (two as-ofs + diff)`,
      orgOf: () => record.organizationId,
      run: async (p) => (await service.diffBetween(scope, p.instants[0], p.instants[1])).changes.length,
    },
  ];
}
