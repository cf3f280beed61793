import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { AuditHistory, RESOURCE_TYPES } from '../lib/event-history';
import { pick, prng, Random } from '../lib/events';
import { percentile } from '../lib/stats';
import { Catalog, explain, Explained } from './explain';
import { Picks, QuerySpec, Statement } from './queries';

const DAY_MS = 24 * 60 * 60 * 1000;
const FILTER_ACTIONS = ['update', 'read', 'create', 'delete'];
/** Postgres' error code for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

export interface MeasureOptions {
  reps: number;
  warmup: number;
  seed: number;
  now: Date;
  days: number;
  /** A Seq Scan on a relation of at least this many rows is flagged. */
  largeRows: number;
}

export interface QueryResult {
  name: string;
  description: string;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  medianRows: number;
  timeouts: number;
  /** Measured reps (warm-up excluded): latency, rows, and the tenant's share of all events. */
  reps: Array<{ ms: number; rows: number; org: string; orgEvents: number | null; timedOut: boolean }>;
  /** EXPLAIN (ANALYZE, BUFFERS) of the slowest measured rep's statement. */
  explain: (Explained & { statement: Statement; rep: number }) | { error: string; statement: Statement };
}

/** Picks of one rep: a random org, user actor, resource and sampled event, a search word and a filter. */
export function picker(
  history: AuditHistory,
  sample: Picks['event'][],
  options: MeasureOptions,
  /** The span of the as-of record's history: its instants are drawn from it. */
  asOfRange: { from: Date; to: Date } = { from: new Date(0), to: options.now },
) {
  const random: Random = prng(options.seed * 7919 + 17);
  const orgs = history.organizations;
  const actors = orgs.flatMap((org) => org.actors.map((id) => ({ id, org })));
  const resources = orgs.flatMap((org) => org.resources.map((resource) => ({ resource, org })));
  const to = options.now;
  const from = new Date(to.getTime() - options.days * DAY_MS);
  const instant = () =>
    new Date(asOfRange.from.getTime() + random() * (asOfRange.to.getTime() - asOfRange.from.getTime()));
  return (): Picks => ({
    org: pick(random, orgs),
    actor: pick(random, actors),
    resource: pick(random, resources),
    event: pick(random, sample),
    word: pick(random, history.searchWords),
    action: pick(random, FILTER_ACTIONS),
    resourceType: pick(random, RESOURCE_TYPES),
    from,
    to,
    instants: [instant(), instant()].sort((a, b) => a.getTime() - b.getTime()) as [Date, Date],
  });
}

/**
 * Runs every query once per rep (interleaved, so drift of the noisy machine hits them all alike), discards
 * the warm-up reps, then EXPLAINs the slowest measured statement of each query.
 */
export async function measureQueries(
  dataSource: DataSource,
  specs: QuerySpec[],
  lastStatement: () => Statement | null,
  nextPicks: () => Picks,
  totalEvents: number,
  catalog: Catalog,
  options: MeasureOptions,
): Promise<QueryResult[]> {
  const runs = specs.map(() => [] as Array<QueryResult['reps'][number] & { statement: Statement }>);
  for (let rep = 0; rep < options.warmup + options.reps; rep++) {
    const picks = nextPicks();
    for (const [i, spec] of specs.entries()) {
      const started = performance.now();
      let rows = 0;
      let timedOut = false;
      try {
        rows = await spec.run(picks);
      } catch (error) {
        if ((error as { code?: string }).code !== QUERY_CANCELED) throw error;
        timedOut = true;
      }
      const ms = performance.now() - started;
      if (rep < options.warmup) continue;
      const org = spec.orgOf(picks);
      runs[i].push({
        ms,
        rows,
        timedOut,
        org: typeof org === 'string' ? org : org.id,
        orgEvents: typeof org === 'string' ? null : Math.round(org.share * totalEvents),
        statement: lastStatement()!,
      });
    }
    console.log(
      `  rep ${rep + 1}/${options.warmup + options.reps}${rep < options.warmup ? ' (warm-up)' : ''}`,
    );
  }

  const results: QueryResult[] = [];
  for (const [i, spec] of specs.entries()) {
    const reps = runs[i];
    const ms = reps.map((r) => r.ms);
    const slowest = reps.reduce((a, b, index) => (b.ms > reps[a].ms ? index : a), 0);
    const statement = reps[slowest].statement;
    let explained: QueryResult['explain'];
    try {
      explained = {
        ...(await explain(dataSource, catalog, statement.sql, statement.params, options.largeRows)),
        statement,
        rep: slowest,
      };
    } catch (error) {
      explained = { error: (error as Error).message, statement };
    }
    results.push({
      name: spec.name,
      description: spec.description,
      p50Ms: percentile(ms, 50),
      p95Ms: percentile(ms, 95),
      minMs: Math.min(...ms),
      maxMs: Math.max(...ms),
      medianRows: percentile(
        reps.map((r) => r.rows),
        50,
      ),
      timeouts: reps.filter((r) => r.timedOut).length,
      reps: reps.map(({ statement: _statement, ...rest }) => rest),
      explain: explained,
    });
  }
  return results;
}
