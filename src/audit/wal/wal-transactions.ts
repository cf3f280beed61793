import {
  parseContext,
  parseSession,
  WAL_CONTEXT_PREFIX,
  WAL_SESSION_PREFIX,
  WalContext,
  WalSession,
} from './wal-context';

/** A table as pgoutput names it. */
interface PgRelation {
  schema: string;
  name: string;
}
type Row = Record<string, unknown>;

/**
 * The pgoutput messages the assembler reads, as pg-logical-replication decodes them (its `Pgoutput.Message`,
 * structurally: the package is an optional peer, and its types stay out of ours).
 */
export type PgoutputMessage =
  | { tag: 'begin'; commitLsn: string | null; commitTime: unknown; xid: number }
  | { tag: 'commit'; commitEndLsn: string | null }
  | { tag: 'insert'; relation: PgRelation; new: Row }
  | { tag: 'update'; relation: PgRelation; key: Row | null; old: Row | null; new: Row }
  | { tag: 'delete'; relation: PgRelation; key: Row | null; old: Row | null }
  | { tag: 'truncate'; relations: PgRelation[] }
  | { tag: 'message'; transactional: boolean; prefix: string; content: Uint8Array }
  | { tag: 'relation' | 'type' | 'origin' };

/** One row change of a committed transaction, values parsed by their column types. */
export interface WalChange {
  kind: 'insert' | 'update' | 'delete' | 'truncate';
  schema: string;
  table: string;
  /** The row before (update, delete: the whole row with REPLICA IDENTITY FULL). */
  old: Record<string, unknown> | null;
  /** The row after (insert, update). */
  new: Record<string, unknown> | null;
}

/** A committed transaction as the slot delivered it: its changes, and what it said about itself. */
export interface WalTransaction {
  xid: number;
  /** The commit record's LSN: the transaction's place in the WAL, unique, increasing in commit order. */
  commitLsn: string;
  /** The LSN after the commit record: what is acknowledged once the transaction's events are stored. */
  endLsn: string;
  commitTime: Date;
  changes: WalChange[];
  /** The application's context (`@Audited` request), when one was emitted in the transaction. */
  context: WalContext | null;
  /** The database role and application name, when the session trigger ran in the transaction. */
  session: WalSession | null;
}

/**
 * Assembles pgoutput messages (Begin, Relation, Insert/Update/Delete/Truncate, Message, Commit) into committed
 * transactions. Without streaming of in-progress transactions (proto_version 1), Postgres sends a transaction
 * only once it committed, all of it between its Begin and Commit: rolled-back work never arrives. Only changes
 * of `captured` tables are kept ("schema.table").
 */
export class WalTransactionAssembler {
  private current: WalTransaction | null = null;

  constructor(private readonly captured: (schema: string, table: string) => boolean) {}

  /** Between a Begin and its Commit. */
  get inTransaction(): boolean {
    return this.current !== null;
  }

  /** Forgets a transaction cut by a lost connection: the slot sends it again, whole. */
  reset(): void {
    this.current = null;
  }

  /** Feeds one message; returns the transaction its Commit completes. */
  push(message: PgoutputMessage): WalTransaction | null {
    switch (message.tag) {
      case 'begin':
        this.current = {
          xid: message.xid,
          commitLsn: message.commitLsn ?? '0/0',
          endLsn: message.commitLsn ?? '0/0',
          commitTime: microsToDate(message.commitTime),
          changes: [],
          context: null,
          session: null,
        };
        return null;
      case 'insert':
        this.change('insert', message.relation, null, message.new);
        return null;
      case 'update':
        this.change('update', message.relation, message.old ?? message.key, message.new);
        return null;
      case 'delete':
        this.change('delete', message.relation, message.old ?? message.key, null);
        return null;
      case 'truncate':
        for (const relation of message.relations) this.change('truncate', relation, null, null);
        return null;
      case 'message':
        this.message(message);
        return null;
      case 'commit': {
        const done = this.current;
        this.current = null;
        if (!done) return null;
        if (message.commitEndLsn) done.endLsn = message.commitEndLsn;
        return done;
      }
      default:
        return null; // relation, type, origin: kept by the decoder, nothing for us
    }
  }

  private change(
    kind: WalChange['kind'],
    relation: PgRelation,
    old: Record<string, unknown> | null,
    row: Record<string, unknown> | null,
  ): void {
    if (!this.current || !this.captured(relation.schema, relation.name)) return;
    this.current.changes.push({ kind, schema: relation.schema, table: relation.name, old, new: row });
  }

  private message(message: Extract<PgoutputMessage, { tag: 'message' }>): void {
    if (!this.current || !message.transactional) return;
    if (message.prefix === WAL_CONTEXT_PREFIX) {
      // The last one wins: a transaction committed by the hook carries one; a nested capture may add another.
      this.current.context = parseContext(message.content) ?? this.current.context;
    } else if (message.prefix === WAL_SESSION_PREFIX && !this.current.session) {
      this.current.session = parseSession(message.content);
    }
  }
}

/** pgoutput's commit time: microseconds since the Unix epoch (a BigInt). */
export function microsToDate(micros: unknown): Date {
  return new Date(Number(BigInt(micros as bigint) / 1000n));
}

/** An LSN (`16/B374D848`) as a number of bytes, for comparisons and lag arithmetic. */
export function lsnToBigInt(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high || '0'}`) << 32n) + BigInt(`0x${low || '0'}`);
}
