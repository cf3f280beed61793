import { generateKeyPairSync } from 'node:crypto';
import { GENESIS_HASH, sealHash } from '../audit';
import { checkExternalHead, decodeHead, encodeHead, ExternalHead } from './chain-head';
import { StoredSeal } from './chain-verifier';
import { CheckpointSigner } from './checkpoint-signer';

const seed = Buffer.alloc(32, 3).toString('base64');
const signer = new CheckpointSigner(seed);

function chain(n: number): StoredSeal[] {
  const seals: StoredSeal[] = [];
  let prev: Buffer = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const body = {
      orgKey: 'org',
      seq: String(i),
      batchId: `00000000-0000-7000-8000-00000000000${i}`,
      eventCount: 1,
      firstAtMicros: String(1_700_000_000_000_000 + i * 1000),
      lastAtMicros: String(1_700_000_000_000_000 + i * 1000),
      merkleRoot: Buffer.alloc(32, i),
      prevHash: prev,
    };
    prev = sealHash(body);
    seals.push({ ...body, sealHash: prev });
  }
  return seals;
}

const published = (seal: StoredSeal): ExternalHead => ({
  head: signer.signHead({
    orgKey: seal.orgKey,
    seq: seal.seq,
    sealHash: seal.sealHash,
    lastEventAt: new Date(Number(BigInt(seal.lastAtMicros) / 1000n)).toISOString(),
    signedAt: '2026-12-07T10:00:00.000Z',
  }),
});

describe('checkExternalHead', () => {
  const seals = chain(5);
  const check = (dbSeals: StoredSeal[], external: ExternalHead | undefined) =>
    checkExternalHead('org', dbSeals, external, signer.publicKeys);

  it('accepts a chain that reaches its published head, or grew past it', () => {
    expect(check(seals, published(seals[4]))).toMatchObject({
      broken: null,
      report: { seq: '5', missing: null },
    });
    expect(check(seals, published(seals[2])).broken).toBeNull();
    expect(check(seals, undefined)).toEqual({ broken: null, report: null });
    expect(check(seals, { head: null })).toEqual({ broken: null, report: null });
  });

  it('reports the seals and event times missing from a chain cut before its head', () => {
    const { broken, report } = check(seals.slice(0, 2), published(seals[4]));
    expect(broken).toMatchObject({ kind: 'head', id: 'org#5' });
    expect(broken!.reason).toContain('seals 3..5');
    expect(report!.missing).toEqual({
      fromSeq: '3',
      toSeq: '5',
      afterEventAt: new Date(Number(BigInt(seals[1].lastAtMicros) / 1000n)).toISOString(),
      untilEventAt: new Date(Number(BigInt(seals[4].lastAtMicros) / 1000n)).toISOString(),
    });
    expect(check([], published(seals[0])).report!.missing).toMatchObject({
      fromSeq: '1',
      afterEventAt: null,
    });
  });

  it('reports a chain that holds another seal where its head was published', () => {
    const other = chain(5).map((s) => ({ ...s, sealHash: Buffer.alloc(32, 9) }));
    expect(check(other, published(seals[3])).broken!.reason).toMatch(
      /seal 4 differs from the head published/,
    );
  });

  it('refuses a head not signed by a known key, altered, for another organization, or unreadable', () => {
    const external = published(seals[4]) as { head: NonNullable<ReturnType<typeof decodeHead>> };
    const forged = { head: { ...external.head, seq: '9' } };
    expect(check(seals, forged).broken!.reason).toBe('signature of the published head is not valid');
    const { privateKey } = generateKeyPairSync('ed25519');
    const stranger = new CheckpointSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const foreign = { head: stranger.signHead({ ...external.head }) };
    expect(check(seals, foreign).broken!.reason).toMatch(/unknown key/);
    expect(checkExternalHead('other', seals, external, signer.publicKeys).broken!.reason).toMatch(
      /organization/,
    );
    expect(check(seals, { error: 'timeout' }).broken).toMatchObject({
      kind: 'head',
      reason: expect.stringMatching(/timeout/),
    });
  });

  it('round-trips the stored JSON form, signature included', () => {
    const { head } = published(seals[2]) as { head: ReturnType<typeof decodeHead> };
    const decoded = decodeHead(encodeHead(head));
    expect(decoded).toEqual(head);
    expect(check(seals, { head: decoded }).broken).toBeNull();
    expect(() => decodeHead('{"version":2}')).toThrow(/version/);
  });
});
