import { Run } from './measure-run';
import { Variant } from './variants';
import { OperationCounts } from './workloads';

const MUTATIONS = ['create', 'update', 'delete'] as const;

export interface RowCheck {
  /** Audit rows the variant should have written for the responses the load generator counted. */
  expected: number;
  /** Rows it wrote in its own table. */
  recorded: number;
  /** Rows in the table of another variant: always a bug (e.g. the trigger left on). */
  stray: number;
  ok: boolean;
}

/**
 * What each variant must record: (a) nothing (nor the capture stages of `--stages`, which stop before the
 * writer); (b) a row per successful create, update and delete (a trigger sees neither reads nor failed
 * requests); (c)/(d) an event per request, failures included. A request still
 * in flight when the load generator stopped is served and recorded but not counted, hence the tolerance of
 * one request per connection above the count; fewer rows than counted responses is always a failure. (e)'s
run counts only if its deferred worker then drained the backlog completely, and (e)'s and (e2)'s only if
every successful mutation has exactly one event with its request id (request-ids.ts).
 */
export function checkRows(run: Run, variant: Variant, connections: number): RowCheck {
  const { trigger, eventMutations, eventReads } = run.rows;
  const events = eventMutations + eventReads;
  const [expected, recorded, stray] =
    variant.records === 'nothing'
      ? [0, 0, trigger + events]
      : variant.records === 'trigger'
        ? [successfulMutations(run.counts), trigger, events]
        : [allResponses(run.counts), events, trigger];
  return {
    expected,
    recorded,
    stray,
    ok:
      stray === 0 &&
      recorded >= expected &&
      recorded - expected <= connections &&
      (run.drain?.completed ?? true) &&
      (run.requestIds?.ok ?? true),
  };
}

function successfulMutations(counts: OperationCounts): number {
  return MUTATIONS.reduce((sum, op) => sum + counts[op].ok, 0);
}

function allResponses(counts: OperationCounts): number {
  return Object.values(counts).reduce((sum, c) => sum + c.ok + c.failed, 0);
}
