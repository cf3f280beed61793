import { createHash, KeyObject, sign, verify } from 'node:crypto';

/** A signed statement that an organization's chain had `sealHash` as its seal number `seq`. */
export interface Checkpoint {
  id: string;
  orgKey: string;
  seq: string;
  sealHash: Buffer;
  /** ISO 8601 with milliseconds. */
  signedAt: string;
  keyId: string;
  signature: Buffer;
}

/** The exact bytes an Ed25519 checkpoint signature covers (version 1). */
export function checkpointStatement(c: Omit<Checkpoint, 'id' | 'signature'>): Buffer {
  const body = JSON.stringify([c.orgKey, c.seq, c.sealHash.toString('hex'), c.signedAt, c.keyId]);
  return Buffer.from(`audit-checkpoint:v1\n${body}`);
}

/** Key id of an Ed25519 public key: the first 16 hex digits of SHA-256 over its raw 32 bytes. */
export function keyIdOf(publicKey: KeyObject): string {
  const raw = rawPublicKey(publicKey);
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function rawPublicKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url');
}

export function signCheckpoint(c: Omit<Checkpoint, 'id' | 'signature'>, privateKey: KeyObject): Buffer {
  return sign(null, checkpointStatement(c), privateKey);
}

export function checkpointSignatureValid(c: Checkpoint, publicKey: KeyObject): boolean {
  return verify(null, checkpointStatement(c), publicKey, c.signature);
}
