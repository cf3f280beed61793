import { randomBytes } from 'node:crypto';
import { eventId } from '../event-id';
import { kekIdOf, uuidToRef, wrapKey } from './personal-data.cipher';

/** A subject key as it travels with the events it encrypted, until it is stored with them. */
export interface SubjectKeyRecord {
  id: string;
  organizationId: string | null;
  subjectId: string;
  kekId: string;
  /** base64 of the data key wrapped with the key-encryption key. */
  wrappedKey: string;
  /** Epoch ms. An erasure of the subject at or after this time also erases this key. */
  createdAt: number;
}

export interface ActiveSubjectKey {
  record: SubjectKeyRecord;
  /** The id as it appears in tokens. */
  ref: string;
  dataKey: Buffer;
  /**
   * Tokens already made with this key, by the value (see the protector's cacheKeyOf): a subject's values
   * repeat from event to event (the same email in every update of an account), and AES-GCM setup is most
   * of the cost of a token.
   * Equal values of one subject get equal tokens while the key lives, which tells no more than the diff
   * already does (an unchanged field is not listed as changed).
   */
  tokens: Map<string, string>;
}

interface CacheEntry {
  key: ActiveSubjectKey;
  expiresAt: number;
}

/**
 * The data keys this process encrypts with, one per (organization, subject), made here without asking the
 * database: capture never waits on it. A new key travels with the events it encrypted (wrapped, in the
 * queued event) and is stored in the same transaction as them; once a batch holding it has committed the
 * key is known stored and events stop carrying it. Keys are renewed after `ttlMs`, so an erasure made by
 * another replica reaches this one's new events within that time at most (and events encrypted meanwhile
 * use a key the erasure destroyed, or one created before it, which the store then refuses: see
 * SubjectKeyStore.store).
 */
export class SubjectKeyring {
  private readonly active = new Map<string, CacheEntry>();
  private readonly stored = new Set<string>();
  readonly kekId: string;

  constructor(
    private readonly kek: Buffer,
    private readonly ttlMs: number,
    private readonly maxKeys = 10_000,
  ) {
    this.kekId = kekIdOf(kek);
  }

  keyFor(organizationId: string | null, subjectId: string, now = Date.now()): ActiveSubjectKey {
    const cacheKey = `${organizationId ?? ''}\u0000${subjectId}`;
    const cached = this.active.get(cacheKey);
    if (cached && cached.expiresAt > now) return cached.key;
    if (cached) this.active.delete(cacheKey);
    const id = eventId(new Date(now));
    // Not from the IV pool: key material is never left behind in a shared buffer.
    const dataKey = randomBytes(32);
    const key: ActiveSubjectKey = {
      ref: uuidToRef(id),
      dataKey,
      tokens: new Map(),
      record: {
        id,
        organizationId,
        subjectId,
        kekId: this.kekId,
        wrappedKey: wrapKey(this.kek, dataKey, id, organizationId, subjectId).toString('base64'),
        createdAt: now,
      },
    };
    if (this.active.size >= this.maxKeys) this.active.delete(this.active.keys().next().value!);
    this.active.set(cacheKey, { key, expiresAt: now + this.ttlMs });
    return key;
  }

  /** True once a batch carrying this key has committed: events need not carry it any more. */
  isStored(id: string): boolean {
    return this.stored.has(id);
  }

  markStored(ids: Iterable<string>): void {
    for (const id of ids) {
      if (this.stored.size >= this.maxKeys * 2) this.stored.delete(this.stored.values().next().value!);
      this.stored.add(id);
    }
  }

  /** After an erasure made by this process: the next event of the subject gets a new key. */
  forget(organizationId: string | null, subjectId: string): void {
    this.active.delete(`${organizationId ?? ''}\u0000${subjectId}`);
  }
}
