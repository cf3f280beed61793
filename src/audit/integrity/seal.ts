import { createHash, hash } from 'node:crypto';

/** The previous-seal hash of the first seal of a chain. */
export const GENESIS_HASH = Buffer.alloc(32);

/** One event as a leaf of its batch's Merkle tree. */
export interface SealLeaf {
  id: string;
  hash: Buffer;
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
  if (leaves.length === 1) return leaves[0].hash;
  if (leaves.some((leaf) => leaf.hash.length !== HASH_BYTES)) return merkleRootOfAnyLength(leaves);
  // Inner nodes are kept as latin1 ('binary') strings, one char per byte: Node's hash() returns a string about twice
  // as fast as a Buffer, and a batch of n events costs n - 1 of these hashes (writer and verifier).
  let level: string[] = [];
  for (let i = 0; i < leaves.length; i += 2) {
    if (i + 1 === leaves.length) {
      level.push(leaves[i].hash.toString('latin1'));
    } else {
      scratch.set(leaves[i].hash, 1);
      scratch.set(leaves[i + 1].hash, 1 + HASH_BYTES);
      level.push(hash('sha256', scratch, 'binary'));
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

/** The same tree over leaves that are not all 32 bytes (a damaged stored hash): plain concatenation. */
function merkleRootOfAnyLength(leaves: SealLeaf[]): Buffer {
  let level: Buffer[] = leaves.map((leaf) => leaf.hash);
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

/** Groups events by organization chain, keys in byte order (the order chain heads are locked in). */
export function groupForSeals(
  events: Iterable<{ id: string; organizationId: string | null; occurredAtMs: number; hash: Buffer }>,
): PendingSeal[] {
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
  return [...byOrg.values()].sort((a, b) => Buffer.compare(Buffer.from(a.orgKey), Buffer.from(b.orgKey)));
}

const unescapeCopy = (field: string): string =>
  field.replace(/\\(.)/g, (_, ch: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[ch] ?? ch);

/**
 * What a seal needs from one COPY line (`encodeEvent`): id (first field), occurred_at (second),
 * organization (third) and the hash (last field, `\\x` + 64 hex). Reading them back from the line keeps
 * the repository's input a plain list of lines, whatever delivery mode produced them.
 */
export function sealInputFromLine(line: string) {
  const t1 = line.indexOf('\t');
  const t2 = line.indexOf('\t', t1 + 1);
  const t3 = line.indexOf('\t', t2 + 1);
  const org = line.slice(t2 + 1, t3);
  const end = line.endsWith('\n') ? line.length - 1 : line.length;
  return {
    id: line.slice(0, t1),
    occurredAtMs: Date.parse(line.slice(t1 + 1, t2)),
    organizationId: org === '\\N' ? null : org.includes('\\') ? unescapeCopy(org) : org,
    hash: Buffer.from(line.slice(end - 64, end), 'hex'),
  };
}
