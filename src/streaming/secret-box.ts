import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A destination's secret settings at rest: AES-256-GCM under the key-encryption key (the personal-data key,
 * or `streaming.secretKey`), bound to the destination's id (a sealed secret copied onto another row does
 * not open). The admin API never returns a secret, only which fields are set.
 */
export function sealSecret(kek: Buffer, destinationId: string, secret: Record<string, string>): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(`audit-stream-destination:${destinationId}`));
  const body = Buffer.concat([cipher.update(JSON.stringify(secret)), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function openSecret(kek: Buffer, destinationId: string, sealed: Buffer): Record<string, string> {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed secret is too short');
  const decipher = createDecipheriv('aes-256-gcm', kek, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(`audit-stream-destination:${destinationId}`));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const plain = Buffer.concat([
    decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]);
  return JSON.parse(plain.toString()) as Record<string, string>;
}
