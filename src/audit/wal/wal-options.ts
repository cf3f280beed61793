import type { EntityTarget, ObjectLiteral } from 'typeorm';

/** One captured table: a TypeORM entity, with the resource type its events get (default: from its name). */
export interface WalEntityOption {
  entity: EntityTarget<ObjectLiteral>;
  resourceType?: string;
}

/** Options of `AuditWalModule.forRoot()`. */
export interface AuditWalOptions {
  /**
   * The entities whose committed row changes are captured from the WAL (their tables are added to the
   * publication, set to REPLICA IDENTITY FULL and given the session trigger).
   */
  entities: Array<EntityTarget<ObjectLiteral> | WalEntityOption>;
  /**
   * Consume the slot in this process (default true). Every process with the module puts its requests' context
   * into the WAL and reports the slot's lag; only one at a time consumes the slot (Postgres allows one reader),
   * the others wait and take over when it stops.
   */
  consume?: boolean;
  /** Logical replication slot. Default `nest_audit_wal`. */
  slot?: string;
  /** Publication of the captured tables. Default `nest_audit_wal`. */
  publication?: string;
  /** Create the publication, replica identity, triggers and slot at start when missing. Default true. */
  setup?: boolean;
  /** Events per COPY batch. Default 2000. */
  batchSize?: number;
  /** Write what was decoded at least this often. Default 200 ms. */
  flushIntervalMs?: number;
  /** Readiness fails, and an error is logged, when the slot is this far behind (bytes). Default 256 MiB. */
  maxLagBytes?: number;
  /**
   * The WAL the slot keeps on the server's disk, past which it is reported (readiness down, an error logged)
   * before it fills the disk or `max_slot_wal_keep_size` invalidates it. Default 1 GiB.
   */
  maxRetainedBytes?: number;
  /** How often the slot's lag is read (ms). Default 5 s. */
  lagPollMs?: number;
}

export interface ResolvedWalOptions {
  entities: WalEntityOption[];
  consume: boolean;
  slot: string;
  publication: string;
  setup: boolean;
  batchSize: number;
  flushIntervalMs: number;
  maxLagBytes: number;
  maxRetainedBytes: number;
  lagPollMs: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Options with defaults, or a start-up error naming each bad one. */
export function resolveWalOptions(options: AuditWalOptions): ResolvedWalOptions {
  const resolved: ResolvedWalOptions = {
    entities: (options.entities ?? []).map((e) =>
      typeof e === 'object' && e !== null && 'entity' in e ? e : { entity: e },
    ),
    consume: options.consume ?? true,
    slot: options.slot ?? 'nest_audit_wal',
    publication: options.publication ?? 'nest_audit_wal',
    setup: options.setup ?? true,
    batchSize: options.batchSize ?? 2000,
    flushIntervalMs: options.flushIntervalMs ?? 200,
    maxLagBytes: options.maxLagBytes ?? 256 * 1024 * 1024,
    maxRetainedBytes: options.maxRetainedBytes ?? 1024 * 1024 * 1024,
    lagPollMs: options.lagPollMs ?? 5000,
  };
  const problems: string[] = [];
  if (resolved.entities.length === 0) problems.push('entities must name at least one entity');
  if (!IDENTIFIER.test(resolved.slot))
    problems.push('slot must be a lowercase identifier (letters, digits, _; at most 63)');
  if (!IDENTIFIER.test(resolved.publication))
    problems.push('publication must be a lowercase identifier (letters, digits, _; at most 63)');
  for (const key of ['batchSize', 'flushIntervalMs', 'maxLagBytes', 'maxRetainedBytes', 'lagPollMs'] as const)
    if (!(Number.isInteger(resolved[key]) && resolved[key] >= 1))
      problems.push(`${key} must be a positive integer`);
  if (problems.length) throw new Error(`Invalid AuditWalModule options: ${problems.join('; ')}`);
  return resolved;
}
