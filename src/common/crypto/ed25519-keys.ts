import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';

/** An Ed25519 public key from its raw 32 bytes (base64) or a PEM (SPKI). */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  const raw = Buffer.from(trimmed, 'base64');
  if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes (base64) or a PEM');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

/** An Ed25519 private key from a PEM (PKCS#8, `\n` may be written as the two characters) or a base64 32-byte seed. */
export function parsePrivateKey(text: string): KeyObject {
  const trimmed = text.trim().replaceAll('\\n', '\n');
  const key = trimmed.startsWith('-----BEGIN') ? createPrivateKey(trimmed) : privateFromSeed(trimmed);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
  return key;
}

function privateFromSeed(base64: string): KeyObject {
  const seed = Buffer.from(base64, 'base64');
  if (seed.length !== 32) throw new Error('an Ed25519 private key is a PEM or a base64 32-byte seed');
  // PKCS#8 DER of an Ed25519 key is a fixed 16-byte prefix followed by the seed.
  const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  return createPrivateKey({ key: Buffer.concat([prefix, seed]), format: 'der', type: 'pkcs8' });
}
