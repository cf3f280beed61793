import { KeyObject, sign, verify } from 'node:crypto';

/** Where an archive manifest carries its signature: inside the `integrity` section it also covers. */
export interface ManifestSignature {
  keyId: string;
  /** Ed25519 over `manifestStatement(manifest)`, base64. */
  signature: string;
}

/**
 * JSON with object keys sorted (recursively) and no whitespace: the same manifest always gives the same
 * bytes, however it was pretty-printed or its keys reordered on the way.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The exact bytes a manifest signature covers (version 1): the whole manifest, every field (range, row
 * count, columns, file checksum, the integrity section), without the signature itself.
 */
export function manifestStatement(manifest: object): Buffer {
  const { integrity, ...rest } = manifest as { integrity?: Record<string, unknown> };
  const { manifestSignature: _signature, ...section } = integrity ?? {};
  return Buffer.from(`audit-archive-manifest:v1\n${canonicalJson({ ...rest, integrity: section })}`);
}

export function signManifest(manifest: object, keyId: string, privateKey: KeyObject): ManifestSignature {
  return { keyId, signature: sign(null, manifestStatement(manifest), privateKey).toString('base64') };
}

/** Null when the manifest's signature verifies against one of `publicKeys`; otherwise why not. */
export function manifestSignatureProblem(
  manifest: object,
  publicKeys: Map<string, KeyObject>,
): string | null {
  const signed = (manifest as { integrity?: { manifestSignature?: ManifestSignature } }).integrity
    ?.manifestSignature;
  if (!signed || typeof signed.signature !== 'string') return 'the manifest is not signed';
  const key = publicKeys.get(signed.keyId);
  if (!key) return `the manifest is signed with unknown key ${String(signed.keyId)}`;
  const valid = verify(null, manifestStatement(manifest), key, Buffer.from(signed.signature, 'base64'));
  return valid ? null : 'the manifest signature is not valid (the manifest was edited)';
}
