import { DataSource } from 'typeorm';
import { SEARCH_INDEX_SUFFIX } from '../../src/partitions/partition.repository';

/** One node of `EXPLAIN (FORMAT JSON)`: only the fields read here. */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Actual Total Time'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Subplans Removed'?: number;
  'Index Cond'?: string;
  'Recheck Cond'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

interface ExplainOutput {
  Plan: PlanNode & { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number };
  'Planning Time': number;
  'Execution Time': number;
  JIT?: unknown;
}

export interface PlanSummary {
  executionMs: number;
  planningMs: number;
  /** Indexes used, named after the index declared on audit_events (per-partition search indexes as one). */
  indexes: string[];
  nodeTypes: Record<string, number>;
  /** Partitions of audit_events: in the plan after plan-time pruning, and actually executed. */
  partitions: { total: number; inPlan: number; executed: number; prunedAtRunTime: number } | null;
  /** `kept`: the share of the relation's rows the scan returned (a Seq Scan keeping most of them is fine). */
  seqScans: Array<{ relation: string; relationRows: number; actualRows: number; kept: number }>;
  /** Seq Scans on a relation of at least `largeRows` rows: each one wants an index. */
  flagged: string[];
  rowsRemovedByFilter: number;
  /**
   * Rows whose search vector was computed in a Filter (no search index on that partition): the full-text
   * cost of a partition without its index, by partition.
   */
  vectorsComputed: Record<string, number>;
  sharedHitBlocks: number;
  sharedReadBlocks: number;
  jit: boolean;
}

export interface Explained {
  summary: PlanSummary;
  /** The plan as an indented tree (node, relation, index, rows, time, conditions). */
  text: string[];
  plan: unknown;
}

/** What EXPLAIN needs to know about the schema: partitions, their sizes, and which index each index belongs to. */
export class Catalog {
  private constructor(
    private readonly rows: Map<string, number>,
    private readonly partitions: Set<string>,
    private readonly indexParents: Map<string, string>,
  ) {}

  static async load(dataSource: DataSource): Promise<Catalog> {
    const relations: Array<{ name: string; rows: string; partition: boolean }> = await dataSource.query(
      `SELECT c.relname AS name, greatest(c.reltuples, 0)::bigint AS rows,
              EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                       WHERE i.inhrelid = c.oid AND p.relname = 'audit_events') AS partition
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm', 'p')`,
    );
    const indexes: Array<{ name: string; parent: string }> = await dataSource.query(
      `SELECT c.relname AS name, p.relname AS parent
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE c.relkind = 'i'`,
    );
    return new Catalog(
      new Map(relations.map((r) => [r.name, Number(r.rows)])),
      new Set(relations.filter((r) => r.partition).map((r) => r.name)),
      new Map(indexes.map((i) => [i.name, i.parent])),
    );
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  isPartition(relation: string): boolean {
    return this.partitions.has(relation);
  }

  relationRows(relation: string): number {
    return this.rows.get(relation) ?? 0;
  }

  indexName(index: string): string {
    const parent = this.indexParents.get(index);
    if (parent) return parent;
    return index.endsWith(SEARCH_INDEX_SUFFIX) ? `<partition>${SEARCH_INDEX_SUFFIX}` : index;
  }
}

/** Runs `EXPLAIN (ANALYZE, BUFFERS)` of the statement exactly as the repository sent it, and summarizes it. */
export async function explain(
  dataSource: DataSource,
  catalog: Catalog,
  sql: string,
  params: unknown[],
  largeRows: number,
): Promise<Explained> {
  const [row] = await dataSource.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params);
  const [output] = row['QUERY PLAN'] as ExplainOutput[];
  const indexes = new Set<string>();
  const nodeTypes: Record<string, number> = {};
  const inPlan = new Set<string>();
  const executed = new Set<string>();
  const seqScans: PlanSummary['seqScans'] = [];
  const vectorsComputed: Record<string, number> = {};
  let prunedAtRunTime = 0;
  let rowsRemovedByFilter = 0;
  let touchesEvents = false;
  const text: string[] = [];

  const visit = (node: PlanNode, depth: number) => {
    const type = node['Node Type'];
    const loops = node['Actual Loops'] ?? 0;
    const relation = node['Relation Name'];
    nodeTypes[type] = (nodeTypes[type] ?? 0) + 1;
    if (node['Index Name']) indexes.add(catalog.indexName(node['Index Name']));
    prunedAtRunTime += node['Subplans Removed'] ?? 0;
    rowsRemovedByFilter += (node['Rows Removed by Filter'] ?? 0) * Math.max(loops, 1);
    if (relation && (catalog.isPartition(relation) || relation === 'audit_events')) {
      touchesEvents = true;
      inPlan.add(relation);
      if (loops > 0) executed.add(relation);
    }
    const produced = (node['Actual Rows'] ?? 0) * loops;
    if (type === 'Seq Scan' && relation && loops > 0) {
      const relationRows = catalog.relationRows(relation);
      seqScans.push({
        relation,
        relationRows,
        actualRows: produced,
        kept: relationRows ? produced / relationRows : 0,
      });
    }
    if (relation && node.Filter?.includes('to_tsvector'))
      vectorsComputed[relation] =
        (vectorsComputed[relation] ?? 0) + produced + (node['Rows Removed by Filter'] ?? 0) * loops;
    text.push(describe(node, depth, catalog));
    for (const child of node.Plans ?? []) visit(child, depth + 1);
  };
  visit(output.Plan, 0);

  return {
    summary: {
      executionMs: output['Execution Time'],
      planningMs: output['Planning Time'],
      indexes: [...indexes].sort(),
      nodeTypes,
      partitions: touchesEvents
        ? { total: catalog.partitionCount, inPlan: inPlan.size, executed: executed.size, prunedAtRunTime }
        : null,
      seqScans,
      flagged: seqScans
        .filter((s) => s.relationRows >= largeRows)
        .map((s) => `Seq Scan on ${s.relation} (${s.relationRows} rows, ${(100 * s.kept).toFixed(1)}% kept)`),
      rowsRemovedByFilter,
      vectorsComputed,
      sharedHitBlocks: output.Plan['Shared Hit Blocks'] ?? 0,
      sharedReadBlocks: output.Plan['Shared Read Blocks'] ?? 0,
      jit: output.JIT !== undefined,
    },
    text,
    plan: output,
  };
}

function describe(node: PlanNode, depth: number, catalog: Catalog): string {
  const parts = [node['Node Type']];
  if (node['Relation Name']) parts.push(`on ${node['Relation Name']}`);
  if (node['Index Name']) parts.push(`using ${catalog.indexName(node['Index Name'])}`);
  const loops = node['Actual Loops'] ?? 0;
  parts.push(
    loops === 0
      ? '(never executed)'
      : `(rows=${node['Actual Rows']} loops=${loops} time=${node['Actual Total Time']?.toFixed(2)}ms)`,
  );
  if (node['Subplans Removed']) parts.push(`[${node['Subplans Removed']} subplans pruned at run time]`);
  const cond = node['Index Cond'] ?? node['Recheck Cond'];
  if (cond) parts.push(`cond: ${readable(cond)}`);
  if (node.Filter) parts.push(`filter: ${readable(node.Filter)}`);
  if (node['Rows Removed by Filter']) parts.push(`removed by filter: ${node['Rows Removed by Filter']}`);
  return `${'  '.repeat(depth)}${parts.join(' ')}`;
}

/** Conditions without the inlined body of audit_search_vector() and the long casts. */
function readable(condition: string): string {
  return condition
    .replace(/\(*to_tsvector\([\s\S]*?\)\s*@@/g, 'audit_search_vector(...) @@')
    .replace(/'([^']+)'::timestamp with time zone/g, "'$1'")
    .replace(/'([^']+)'::text/g, "'$1'");
}
