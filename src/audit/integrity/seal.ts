import { createHash, hash } from 'node:crypto';

/** The previous-seal hash of the first seal of a chain. */
export const GENESIS_HASH = Buffer.alloc(32);

/** One event as a leaf of its batch's Merkle tree. */
export interface SealLeaf {
  id: string;
  /** The event hash: its bytes, or the 64 hex digits a COPY line carries (the writer's seal path). */
  hash: Buffer | string;
}

/** What a seal states about one organization's events of one batch. */
export interface SealBody {
  orgKey: string;
  seq: string;
  batchId: string;
  eventCount: number;
  firstAtMicros: string;
  lastAtMicros: string;
  merkleRoot: Buffer;
  prevHash: Buffer;
}

const NODE = Buffer.from([1]);
const HASH_BYTES = 32;
/** 0x01 || left || right of the node being hashed: one buffer reused, no allocation per node. */
const scratch = Buffer.concat([NODE, Buffer.alloc(2 * HASH_BYTES)]);

/**
 * Merkle root of a batch's event hashes, leaves ordered by event id (UUIDv7: time order, unique): the
 * leaves are the event hashes themselves, node = SHA-256(0x01 || left || right), an odd node is carried up
 * unchanged. The seal fixes the leaf count, so the tree's shape is known and an inner node cannot be passed
 * off as a leaf. Sorts `leaves`.
 */
export function merkleRoot(leaves: SealLeaf[]): Buffer {
  leaves.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leafBytes(leaves[0]);
  // Inner nodes are kept as latin1 ('binary') strings, one char per byte: Node's hash() returns a string
  // about twice as fast as a Buffer, and a batch of n events costs n - 1 of these hashes (writer and
  // verifier).
  let level: string[] = [];
  for (let i = 0; i < leaves.length; i += 2) {
    if (i + 1 === leaves.length) {
      const last = leafBytes(leaves[i]);
      if (last.length !== HASH_BYTES) return merkleRootOfAnyLength(leaves);
      level.push(last.toString('latin1'));
    } else if (writeLeaf(leaves[i], 1) && writeLeaf(leaves[i + 1], 1 + HASH_BYTES)) {
      level.push(hash('sha256', scratch, 'binary'));
    } else {
      return merkleRootOfAnyLength(leaves);
    }
  }
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 2) {
      if (i + 1 === level.length) {
        next.push(level[i]);
      } else {
        scratch.write(level[i], 1, 'latin1');
        scratch.write(level[i + 1], 1 + HASH_BYTES, 'latin1');
        next.push(hash('sha256', scratch, 'binary'));
      }
    }
    level = next;
  }
  return Buffer.from(level[0], 'latin1');
}

const leafBytes = (leaf: SealLeaf): Buffer =>
  typeof leaf.hash === 'string' ? Buffer.from(leaf.hash, 'hex') : leaf.hash;

/** Puts a 32-byte leaf into the scratch buffer; false if it is not 32 bytes (or not 64 hex digits). */
function writeLeaf(leaf: SealLeaf, offset: number): boolean {
  const h = leaf.hash;
  if (typeof h !== 'string') {
    if (h.length !== HASH_BYTES) return false;
    scratch.set(h, offset);
    return true;
  }
  return h.length === 2 * HASH_BYTES && scratch.write(h, offset, HASH_BYTES, 'hex') === HASH_BYTES;
}

/** The same tree over leaves that are not all 32 bytes (a damaged stored hash): plain concatenation. */
function merkleRootOfAnyLength(leaves: SealLeaf[]): Buffer {
  let level: Buffer[] = leaves.map(leafBytes);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(
        i + 1 < level.length
          ? hash('sha256', Buffer.concat([NODE, level[i], level[i + 1]], 65), 'buffer')
          : level[i],
      );
    }
    level = next;
  }
  return level[0];
}

/** SHA-256 over the seal's canonical statement (version 1); `sealed_at` is informational, not covered. */
export function sealHash(seal: SealBody): Buffer {
  const statement = JSON.stringify([
    seal.orgKey,
    seal.seq,
    seal.batchId,
    seal.eventCount,
    seal.firstAtMicros,
    seal.lastAtMicros,
    seal.merkleRoot.toString('hex'),
    seal.prevHash.toString('hex'),
  ]);
  return createHash('sha256').update('audit-seal:v1\n').update(statement).digest();
}

/** Events of one organization in one batch, before they are sealed. */
export interface PendingSeal {
  orgKey: string;
  leaves: SealLeaf[];
  firstAtMs: number;
  lastAtMs: number;
}

/** The chain key of an organization: events without one share the '' chain. */
export const orgKeyOf = (organizationId: string | null): string => organizationId ?? '';

/** What a seal needs from one event. */
export interface SealInput {
  id: string;
  organizationId: string | null;
  occurredAtMs: number;
  hash: Buffer;
}

/** Groups events by organization chain, keys in byte order (the order chain heads are locked in). */
export function groupForSeals(events: Iterable<SealInput>): PendingSeal[] {
  const byOrg = new Map<string, PendingSeal>();
  for (const event of events) {
    const orgKey = orgKeyOf(event.organizationId);
    let pending = byOrg.get(orgKey);
    if (!pending) {
      pending = { orgKey, leaves: [], firstAtMs: event.occurredAtMs, lastAtMs: event.occurredAtMs };
      byOrg.set(orgKey, pending);
    }
    pending.leaves.push({ id: event.id, hash: event.hash });
    if (event.occurredAtMs < pending.firstAtMs) pending.firstAtMs = event.occurredAtMs;
    if (event.occurredAtMs > pending.lastAtMs) pending.lastAtMs = event.occurredAtMs;
  }
  return inLockOrder(byOrg);
}

const inLockOrder = (byOrg: Map<string, PendingSeal>): PendingSeal[] =>
  [...byOrg.values()].sort((a, b) => Buffer.compare(Buffer.from(a.orgKey), Buffer.from(b.orgKey)));

const COPY_UNESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v' };
/** Reverses `escapeCopyText` (COPY's text-format escapes). */
const unescapeCopy = (field: string): string =>
  field.replace(/\\(.)/g, (_, ch: string) => COPY_UNESCAPES[ch] ?? ch);

/** An organization's events of a batch being read from COPY text: times kept as `toISOString()` text. */
interface PendingLines {
  orgKey: string;
  leaves: SealLeaf[];
  firstIso: string;
  lastIso: string;
}

/**
 * Groups the events of COPY lines (`encodeEvent`) for their seals: id (first field), occurred_at
 * (second), organization (third) and the hash (last field, `\\x` + 64 hex). Reading them back from the
 * lines keeps the repository's input a plain list of lines, whatever delivery mode produced them.
 * `add` takes lines joined, as the writer sends them: that text is flat, while each encoded line is still
 * a rope of the encoder's concatenations, so reading the joined text saves a copy of every line.
 */
export class SealGrouper {
  private readonly byOrg = new Map<string, PendingLines>();

  add(text: string): void {
    for (let start = 0; start < text.length;) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      if (end > start) this.addLine(text, start, end);
      start = end + 1;
    }
  }

  pending(): PendingSeal[] {
    const byOrg = new Map<string, PendingSeal>();
    for (const p of this.byOrg.values()) {
      byOrg.set(p.orgKey, {
        orgKey: p.orgKey,
        leaves: p.leaves,
        firstAtMs: Date.parse(p.firstIso),
        lastAtMs: Date.parse(p.lastIso),
      });
    }
    return inLockOrder(byOrg);
  }

  private addLine(text: string, start: number, end: number): void {
    const t1 = text.indexOf('\t', start);
    const t2 = text.indexOf('\t', t1 + 1);
    const t3 = text.indexOf('\t', t2 + 1);
    const org = text.slice(t2 + 1, t3);
    const orgKey = org === '\\N' ? '' : org.includes('\\') ? unescapeCopy(org) : org;
    const iso = text.slice(t1 + 1, t2);
    const leaf = { id: text.slice(start, t1), hash: text.slice(end - 64, end) };
    const pending = this.byOrg.get(orgKey);
    if (!pending) {
      this.byOrg.set(orgKey, { orgKey, leaves: [leaf], firstIso: iso, lastIso: iso });
      return;
    }
    pending.leaves.push(leaf);
    if (isoBefore(iso, pending.firstIso)) pending.firstIso = iso;
    if (isoBefore(pending.lastIso, iso)) pending.lastIso = iso;
  }
}

/** `toISOString()` texts of years 0..9999 (24 chars) sort as their times; others are parsed. */
const isoBefore = (a: string, b: string): boolean =>
  a.length === 24 && b.length === 24 ? a < b : Date.parse(a) < Date.parse(b);
