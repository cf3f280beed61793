import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import type { JsonValue } from '../audit.types';

/**
 * The ciphertext format of a personal value, stored in place of the value (a JSON string inside the
 * states, metadata and diff):
 *
 *   pii:v1:<key ref>:<payload>
 *
 * `key ref` is the subject key's id (a UUID) in base64url (22 characters); `payload` is base64url of
 * IV (12 bytes) | AES-256-GCM ciphertext of the value's JSON text | tag (16 bytes). The event hash covers
 * this text, so destroying the key later changes nothing that verification reads.
 */
export const TOKEN_PREFIX = 'pii:v1:';
const TOKEN_BODY = 'pii:v1:([A-Za-z0-9_-]{22}):([A-Za-z0-9_-]{38,})';
/** A whole token (for a JSON string value). */
export const TOKEN = new RegExp(`^${TOKEN_BODY}$`);
/** Tokens inside text (an export line). */
export const TOKENS_IN_TEXT = new RegExp(TOKEN_BODY, 'g');

/** What an erased (or unreadable) personal value reads as, everywhere. */
export const ERASED = '[erased]';
/** A value whose key exists but was wrapped with a key-encryption key this process does not have. */
export const UNAVAILABLE = '[encrypted]';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Key id of a key-encryption key: first 16 hex digits of SHA-256 of it (recorded with each wrapped key). */
export function kekIdOf(kek: Buffer): string {
  return createHash('sha256').update(kek).digest('hex').slice(0, 16);
}

export const uuidToRef = (id: string): string =>
  Buffer.from(id.replaceAll('-', ''), 'hex').toString('base64url');

export function refToUuid(ref: string): string {
  const hex = Buffer.from(ref, 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const POOL_BYTES = 8192;
let pool = Buffer.alloc(0);
let offset = POOL_BYTES;

/**
 * Random bytes from a pool refilled 8 KiB at a time (one getrandom call per ~680 IVs instead of one per
 * value): a copy, never a view, so a later refill cannot change an IV already used.
 */
export function pooledRandom(bytes: number): Buffer {
  if (offset + bytes > POOL_BYTES) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + bytes));
  offset += bytes;
  return out;
}

function seal(key: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const iv = pooledRandom(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  if (aad) cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** Throws when the key is wrong or a byte was changed (GCM tag). */
function open(key: Buffer, sealed: Buffer, aad?: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed data is too short');
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES));
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([
    decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]);
}

export function encryptValue(key: Buffer, keyRef: string, value: JsonValue): string {
  return `${TOKEN_PREFIX}${keyRef}:${seal(key, Buffer.from(JSON.stringify(value))).toString('base64url')}`;
}

export function decryptValue(key: Buffer, payload: string): JsonValue {
  return JSON.parse(open(key, Buffer.from(payload, 'base64url')).toString()) as JsonValue;
}

/** The identity a wrapped key is bound to: a wrapped key copied onto another subject's row does not open. */
const wrapContext = (id: string, organizationId: string | null, subjectId: string) =>
  Buffer.from(`${id}\u0000${organizationId ?? ''}\u0000${subjectId}`);

export function wrapKey(
  kek: Buffer,
  dataKey: Buffer,
  id: string,
  organizationId: string | null,
  subjectId: string,
): Buffer {
  return seal(kek, dataKey, wrapContext(id, organizationId, subjectId));
}

export function unwrapKey(
  kek: Buffer,
  wrapped: Buffer,
  id: string,
  organizationId: string | null,
  subjectId: string,
): Buffer {
  return open(kek, wrapped, wrapContext(id, organizationId, subjectId));
}

/** A key-encryption key from configuration: base64 (or hex) of 32 bytes. */
export function parseKek(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error('must be 32 bytes, as base64 or 64 hex digits');
  return key;
}
