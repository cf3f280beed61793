import { createPublicKey, KeyObject } from 'node:crypto';
import { parsePrivateKey, parsePublicKey } from '../common/crypto/ed25519-keys';
import { headStatement, SignedHead, signStatement } from './chain-head';
import { Checkpoint, keyIdOf, rawPublicKey, signCheckpoint } from './checkpoint-statement';
import { ManifestSignature, signManifest } from './manifest-signature';

/** The public verification material of one key, as published (endpoint, CLI). */
export interface PublicKeyInfo {
  keyId: string;
  algorithm: 'Ed25519';
  /** Raw 32-byte public key, base64. */
  publicKey: string;
  publicKeyPem: string;
  current: boolean;
}

/** The checkpoint signing key (AUDIT_SIGNING_KEY) and the public keys checkpoints verify against. */
export class CheckpointSigner {
  readonly keyId: string;
  private readonly privateKey: KeyObject;
  readonly publicKeys: Map<string, KeyObject>;

  constructor(signingKey: string, previousPublicKeys: string[] = []) {
    this.privateKey = parsePrivateKey(signingKey);
    const current = createPublicKey(this.privateKey);
    this.keyId = keyIdOf(current);
    this.publicKeys = new Map([[this.keyId, current]]);
    for (const text of previousPublicKeys) {
      const key = parsePublicKey(text);
      this.publicKeys.set(keyIdOf(key), key);
    }
  }

  sign(head: { orgKey: string; seq: string; sealHash: Buffer }, at = new Date()): Omit<Checkpoint, 'id'> {
    const statement = { ...head, signedAt: at.toISOString(), keyId: this.keyId };
    return { ...statement, signature: signCheckpoint(statement, this.privateKey) };
  }

  /** Signs a chain head for the store outside the database (chain-head.ts). */
  signHead(head: Omit<SignedHead, 'keyId' | 'signature'>): SignedHead {
    const statement = { ...head, keyId: this.keyId };
    return { ...statement, signature: signStatement(headStatement(statement), this.privateKey) };
  }

  /** Signs an archive manifest (see manifestStatement): every field of it, its integrity section too. */
  signManifest(manifest: object): ManifestSignature {
    return signManifest(manifest, this.keyId, this.privateKey);
  }

  describe(): PublicKeyInfo[] {
    return [...this.publicKeys].map(([keyId, key]) => publicKeyInfo(keyId, key, keyId === this.keyId));
  }
}

export function publicKeyInfo(keyId: string, key: KeyObject, current: boolean): PublicKeyInfo {
  return {
    keyId,
    algorithm: 'Ed25519',
    publicKey: rawPublicKey(key).toString('base64'),
    publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(),
    current,
  };
}
