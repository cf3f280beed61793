import { KeyObject } from 'node:crypto';
import { GENESIS_HASH, merkleRoot, SealLeaf, sealHash } from '../audit';
import { checkExternalHead, ExternalHead, ExternalHeadReport } from './chain-head';
import type { BrokenLink, StoredSeal } from './chain.types';

export type { BrokenLink, StoredSeal } from './chain.types';
import { Checkpoint, checkpointSignatureValid } from './checkpoint-statement';

/** One stored event as the verifier sees it: the hash it carries and the hash of its canonical form. */
export interface VerifiedEvent {
  id: string;
  occurredAtMicros: bigint;
  batchId: string | null;
  storedHash: Buffer | null;
  computedHash: Buffer;
  /**
   * Both hashes in hex, when the source has them so (the database stream: COPY prints the stored hash in
   * hex, hash() returns hex): the verifier then compares and keeps the text, no Buffer per event.
   */
  hex?: { stored: string | null; computed: string };
}

export interface ChainReport {
  organizationId: string | null;
  ok: boolean;
  /** Events whose hash was recomputed. */
  checkedEvents: number;
  /** Seals whose links were checked (the whole chain), and those whose events were in the range. */
  checkedSeals: number;
  sealsInRange: number;
  /** Events captured in an application transaction, not chained yet (the integrity job chains them). */
  pendingEvents: number;
  firstBroken: BrokenLink | null;
  problems: number;
  /** The latest checkpoint, verified against the chain; null if the chain has none yet. */
  checkpoint: { id: string; seq: string; signedAt: string; keyId: string } | null;
  /** Seals after the latest checkpoint: their links are checked, but only a signature pins them. */
  unsignedSeals: number;
  /**
   * The head published outside the database (archive store) the chain was checked against, with the seals
   * it proves that the database lacks; null when none was published (yet) or none was looked for.
   */
  externalHead: ExternalHeadReport | null;
}

export interface ChainInput {
  orgKey: string;
  /** Range of event time, in microseconds since the epoch; null = open. */
  fromMicros: bigint | null;
  toMicros: bigint | null;
  /** The organization's whole chain, ordered by seq (seals are small: one per batch). */
  seals: StoredSeal[];
  /** The head row (latest seal as recorded at write time), if any. */
  head: { seq: string; sealHash: Buffer } | null;
  /** Batches captured transactionally and still queued for chaining. */
  pendingBatches: Set<string>;
  checkpoints: Checkpoint[];
  /** Public keys by key id (current and previous signing keys). */
  publicKeys: Map<string, KeyObject>;
  /**
   * Archives: the batches whose events must all be present (instead of "the seals overlapping the time
   * range"), the hashes of their events kept outside the archive, and a chain that is a segment (it need
   * not start at seal 1).
   */
  eventBatches?: Set<string>;
  outsideLeaves?: Map<string, SealLeaf[]>;
  /**
   * The database after archival: event-time ranges whose partitions went cold (dropped). A seal whose
   * events all lie in one of them is checked as a link only (its archive is verified offline); a seal
   * partly in one gets those events' hashes as `outsideLeaves` (kept in audit_archived_leaves).
   */
  archivedRanges?: Array<{ fromMicros: bigint; toMicros: bigint }>;
  segment?: boolean;
  /** The head published outside the database: the chain must reach it (its tail was not deleted). */
  externalHead?: ExternalHead;
}

/**
 * Verifies one organization's chain: every event's hash against its content, every batch's Merkle root
 * against its events, every seal against its content and its predecessor, and every checkpoint's
 * signature and the seal it names. Events are fed one by one (streamed, in any order); the seal and
 * checkpoint checks run in `finish()`.
 */
export class ChainVerifier {
  private readonly inRange = new Map<string, StoredSeal>();
  /** Events seen per sealed batch: their leaves until all have arrived, then the batch's Merkle root. */
  private readonly batches = new Map<string, { count: number; leaves: SealLeaf[]; root: Buffer | null }>();
  private checked = 0;
  private pending = 0;
  private problems = 0;
  private firstEventBreak: BrokenLink | null = null;

  constructor(private readonly input: ChainInput) {
    for (const seal of input.seals) {
      const covered = input.eventBatches
        ? input.eventBatches.has(seal.batchId)
        : this.sealInRange(seal) && !this.sealArchived(seal);
      if (covered) this.inRange.set(seal.batchId, seal);
    }
  }

  /** The window of event time to stream: the range, widened to every event of the seals in it. */
  eventWindow(): { fromMicros: bigint | null; toMicros: bigint | null } {
    let from = this.input.fromMicros;
    let to = this.input.toMicros;
    for (const seal of this.inRange.values()) {
      const first = BigInt(seal.firstAtMicros);
      const last = BigInt(seal.lastAtMicros) + 1n;
      if (from !== null && first < from) from = first;
      if (to !== null && last > to) to = last;
    }
    return { fromMicros: from, toMicros: to };
  }

  /** The seals whose events this verification checks. */
  sealsInRange(): StoredSeal[] {
    return [...this.inRange.values()];
  }

  addEvent(event: VerifiedEvent): void {
    const sealed = event.batchId !== null && this.inRange.has(event.batchId);
    if (!sealed && !this.inRangeTime(event.occurredAtMicros)) return; // widened window, another batch
    this.checked++;
    const { hex } = event;
    const stored = hex ? hex.stored : event.storedHash;
    if (!stored) this.breakEvent(event.id, 'event has no hash');
    else if (hex ? hex.stored !== hex.computed : !event.storedHash!.equals(event.computedHash))
      this.breakEvent(event.id, 'content does not match the event hash');
    if (sealed) {
      this.addLeaf(event.batchId!, {
        id: event.id,
        hash: stored ?? (hex ? hex.computed : event.computedHash),
      });
    } else if (event.batchId !== null && this.input.pendingBatches.has(event.batchId)) {
      this.pending++;
    } else {
      this.breakEvent(event.id, 'event is not covered by any seal of its organization');
    }
  }

  /**
   * A batch's root is computed as soon as its last event arrives (rows of a batch are stored together), so
   * the Merkle work overlaps the streaming and the leaves are not all held to the end.
   */
  private addLeaf(batchId: string, leaf: SealLeaf): void {
    let batch = this.batches.get(batchId);
    if (!batch) this.batches.set(batchId, (batch = { count: 0, leaves: [], root: null }));
    batch.count++;
    if (batch.root !== null) return; // more events than the seal counts: checkSeals reports it
    batch.leaves.push(leaf);
    const outside = this.input.outsideLeaves?.get(batchId) ?? [];
    if (batch.count === this.inRange.get(batchId)!.eventCount - outside.length) {
      batch.root = merkleRoot([...batch.leaves, ...outside]);
      batch.leaves = [];
    }
  }

  finish(): ChainReport {
    const sealBreak = this.checkSeals();
    const checkpointResult = this.checkCheckpoints();
    const external = checkExternalHead(
      this.input.orgKey,
      this.input.seals,
      this.input.externalHead,
      this.input.publicKeys,
    );
    if (external.broken) this.problems++;
    const firstBroken = this.firstEventBreak ?? sealBreak ?? checkpointResult.broken ?? external.broken;
    const seals = this.input.seals;
    const lastSeq = seals.length ? BigInt(seals[seals.length - 1].seq) : 0n;
    const signedSeq = checkpointResult.latest ? BigInt(checkpointResult.latest.seq) : 0n;
    return {
      organizationId: this.input.orgKey === '' ? null : this.input.orgKey,
      ok: firstBroken === null,
      checkedEvents: this.checked,
      checkedSeals: seals.length,
      sealsInRange: this.inRange.size,
      pendingEvents: this.pending,
      firstBroken,
      problems: this.problems,
      checkpoint: checkpointResult.latest
        ? {
            id: checkpointResult.latest.id,
            seq: checkpointResult.latest.seq,
            signedAt: checkpointResult.latest.signedAt,
            keyId: checkpointResult.latest.keyId,
          }
        : null,
      unsignedSeals: Number(lastSeq > signedSeq ? lastSeq - signedSeq : 0n),
      externalHead: external.report,
    };
  }

  private sealInRange(seal: StoredSeal): boolean {
    const { fromMicros, toMicros } = this.input;
    return (
      (toMicros === null || BigInt(seal.firstAtMicros) < toMicros) &&
      (fromMicros === null || BigInt(seal.lastAtMicros) >= fromMicros)
    );
  }

  private sealArchived(seal: StoredSeal): boolean {
    const [first, last] = [BigInt(seal.firstAtMicros), BigInt(seal.lastAtMicros)];
    return (this.input.archivedRanges ?? []).some((r) => first >= r.fromMicros && last < r.toMicros);
  }

  private inRangeTime(micros: bigint): boolean {
    const { fromMicros, toMicros } = this.input;
    return (fromMicros === null || micros >= fromMicros) && (toMicros === null || micros < toMicros);
  }

  private breakEvent(id: string, reason: string): void {
    this.problems++;
    this.firstEventBreak ??= { kind: 'event', id, reason };
  }

  /** Links of the whole chain, content of every seal, Merkle roots of the seals in range. */
  private checkSeals(): BrokenLink | null {
    let first: BrokenLink | null = null;
    const fail = (seal: StoredSeal, reason: string) => {
      this.problems++;
      first ??= { kind: 'seal', id: `${seal.orgKey}#${seal.seq}`, reason };
    };
    let previous: StoredSeal | null = null;
    for (const seal of this.input.seals) {
      const expectedSeq = previous ? BigInt(previous.seq) + 1n : this.input.segment ? BigInt(seal.seq) : 1n;
      if (BigInt(seal.seq) !== expectedSeq) {
        fail(seal, `seals ${expectedSeq}..${BigInt(seal.seq) - 1n} are missing from the chain`);
      } else if (
        (previous || !this.input.segment) &&
        !seal.prevHash.equals(previous ? previous.sealHash : GENESIS_HASH)
      ) {
        fail(seal, 'previous-seal hash does not match the previous seal');
      }
      if (!sealHash(seal).equals(seal.sealHash)) fail(seal, 'seal content does not match the seal hash');
      if (this.inRange.has(seal.batchId)) {
        const batch = this.batches.get(seal.batchId);
        const outside = this.input.outsideLeaves?.get(seal.batchId) ?? [];
        const count = (batch?.count ?? 0) + outside.length;
        if (count !== seal.eventCount)
          fail(seal, `batch has ${count} events, the seal counts ${seal.eventCount}`);
        else if (!(batch?.root ?? merkleRoot([...(batch?.leaves ?? []), ...outside])).equals(seal.merkleRoot))
          fail(seal, 'Merkle root of the batch events does not match the seal');
      }
      previous = seal;
    }
    const head = this.input.head;
    if (head && (!previous || previous.seq !== head.seq || !previous.sealHash.equals(head.sealHash))) {
      this.problems++;
      first ??= {
        kind: 'seal',
        id: `${this.input.orgKey}#${head.seq}`,
        reason: previous
          ? `the chain ends at seal ${previous.seq}, its head records seal ${head.seq}`
          : `the chain has no seal, its head records seal ${head.seq}`,
      };
    }
    return first;
  }

  private checkCheckpoints(): { broken: BrokenLink | null; latest: Checkpoint | null } {
    let broken: BrokenLink | null = null;
    let latest: Checkpoint | null = null;
    const bySeq = new Map(this.input.seals.map((s) => [s.seq, s]));
    for (const checkpoint of this.input.checkpoints) {
      const key = this.input.publicKeys.get(checkpoint.keyId);
      let reason: string | null = null;
      if (!key) reason = `signed with unknown key ${checkpoint.keyId}`;
      else if (!checkpointSignatureValid(checkpoint, key)) reason = 'signature is not valid';
      else if (!bySeq.has(checkpoint.seq)) reason = `seal ${checkpoint.seq} it signs is missing`;
      else if (!bySeq.get(checkpoint.seq)!.sealHash.equals(checkpoint.sealHash))
        reason = `seal ${checkpoint.seq} differs from the signed one (chain rewritten)`;
      if (reason) {
        this.problems++;
        broken ??= { kind: 'checkpoint', id: checkpoint.id, reason };
      } else if (!latest || BigInt(checkpoint.seq) > BigInt(latest.seq)) {
        latest = checkpoint;
      }
    }
    return { broken, latest };
  }
}
