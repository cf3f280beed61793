import { createHash, randomBytes } from 'node:crypto';
import { merkleRoot, SealGrouper, SealLeaf } from './seal';

type BytesLeaf = SealLeaf & { hash: Buffer };

/** The tree as the seal format (v1) defines it, written plainly: node = SHA-256(0x01 || left || right). */
function referenceRoot(leaves: BytesLeaf[]): Buffer {
  let level = [...leaves].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((l) => l.hash);
  if (level.length === 0) return createHash('sha256').digest();
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const node = createHash('sha256')
        .update(Buffer.from([1]))
        .update(level[i]);
      next.push(i + 1 < level.length ? node.update(level[i + 1]).digest() : level[i]);
    }
    level = next;
  }
  return level[0];
}

const leaves = (n: number, bytes = 32): BytesLeaf[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `id-${String(n - i).padStart(5, '0')}`,
    hash: randomBytes(bytes),
  }));

describe('merkleRoot', () => {
  it.each([0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 65, 2000])('matches the tree definition for %i leaves', (n) => {
    const input = leaves(n);
    expect(merkleRoot([...input]).equals(referenceRoot(input))).toBe(true);
    const hex = input.map((l) => ({ id: l.id, hash: l.hash.toString('hex') }));
    expect(merkleRoot(hex).equals(referenceRoot(input))).toBe(true);
  });

  it('matches it for damaged leaves that are not 32 bytes', () => {
    const input = [...leaves(3), ...leaves(2, 31)];
    const concat = (a: Buffer, b: Buffer) => Buffer.concat([Buffer.from([1]), a, b], 65);
    const sorted = [...input].sort((a, b) => (a.id < b.id ? -1 : 1)).map((l) => l.hash);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest();
    const l1 = [sha(concat(sorted[0], sorted[1])), sha(concat(sorted[2], sorted[3])), sorted[4]];
    const l2 = [sha(concat(l1[0], l1[1])), l1[2]];
    expect(merkleRoot([...input]).equals(sha(concat(l2[0], l2[1])))).toBe(true);
  });
});

describe('SealGrouper', () => {
  const line = (id: string, at: string, org: string, hash: Buffer) =>
    `${id}\t${at}\t${org}\tactor\t...\t\\\\x${hash.toString('hex')}\n`;
  it('groups COPY lines by organization chain, in byte order, with their time span and hashes', () => {
    const [h1, h2, h3, h4] = [1, 2, 3, 4].map(() => randomBytes(32));
    const grouper = new SealGrouper();
    grouper.add(
      line('id-2', '2026-11-24T10:00:00.002Z', 'org-b', h1) +
        line('id-1', '2026-11-24T10:00:00.001Z', 'org-b', h2) +
        line('id-3', '2026-11-24T09:59:59.999Z', '\\N', h3),
    );
    grouper.add(line('id-4', '2026-11-24T10:00:00.000Z', 'org\\ta', h4));
    const pending = grouper.pending();
    expect(pending.map((p) => p.orgKey)).toEqual(['', 'org\ta', 'org-b']);
    expect(pending[2]).toMatchObject({
      firstAtMs: Date.parse('2026-11-24T10:00:00.001Z'),
      lastAtMs: Date.parse('2026-11-24T10:00:00.002Z'),
    });
    expect(
      merkleRoot(pending[2].leaves).equals(
        referenceRoot([
          { id: 'id-1', hash: h2 },
          { id: 'id-2', hash: h1 },
        ]),
      ),
    ).toBe(true);
    expect(pending[0].leaves).toEqual([{ id: 'id-3', hash: h3.toString('hex') }]);
  });
});
