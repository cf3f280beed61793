import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  canonicalJson,
  manifestSignatureProblem,
  manifestStatement,
  signManifest,
} from './manifest-signature';

describe('archive manifest signature', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const keys = new Map([['k1', createPublicKey(privateKey)]]);
  const manifest = () => ({
    archiveId: 'a1',
    rowCount: 3,
    columns: [{ name: 'id', type: 'uuid' }],
    files: [{ sha256: 'ab'.repeat(32), rows: 3 }],
    integrity: { version: 1, chains: [{ orgKey: 'org-a', seals: [{ seq: '1', covers: true }] }] },
  });
  const signed = () => {
    const m = manifest();
    return { ...m, integrity: { ...m.integrity, manifestSignature: signManifest(m, 'k1', privateKey) } };
  };

  it('writes JSON with sorted keys and no whitespace, arrays in order', () => {
    expect(canonicalJson({ b: [2, { d: null, c: 'x' }], a: true, u: undefined })).toBe(
      '{"a":true,"b":[2,{"c":"x","d":null}]}',
    );
  });

  it('covers the whole manifest but its own signature, whatever the key order', () => {
    const m = signed();
    const reordered = Object.fromEntries(Object.entries(m).reverse());
    expect(manifestStatement(reordered)).toEqual(manifestStatement(manifest()));
    expect(manifestSignatureProblem(m, keys)).toBeNull();
  });

  it('fails on any edited field, a missing signature or an unknown key', () => {
    const edits: Array<(m: ReturnType<typeof signed>) => void> = [
      (m) => (m.rowCount = 2),
      (m) => (m.files[0].sha256 = 'cd'.repeat(32)),
      (m) => (m.columns[0].type = 'text'),
      (m) => (m.integrity.chains[0].seals[0].covers = false),
      (m) => m.integrity.chains.pop(),
    ];
    for (const edit of edits) {
      const m = signed();
      edit(m);
      expect(manifestSignatureProblem(m, keys)).toBe(
        'the manifest signature is not valid (the manifest was edited)',
      );
    }
    expect(manifestSignatureProblem(manifest(), keys)).toBe('the manifest is not signed');
    expect(manifestSignatureProblem(signed(), new Map([['k2', keys.get('k1')!]]))).toMatch(/unknown key k1/);
  });
});
