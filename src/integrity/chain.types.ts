import type { SealBody } from '../audit';

/** A seal as stored: its body and hash. */
export interface StoredSeal extends SealBody {
  sealHash: Buffer;
}

/** Where a chain or an archive first fails to verify. */
export interface BrokenLink {
  /**
   * `manifest` and `file`: an archive's manifest or data file (archive-verifier.ts); `head`: the chain
   * against its head published outside the database (chain-head.ts).
   */
  kind: 'event' | 'seal' | 'checkpoint' | 'head' | 'manifest' | 'file';
  /** Event id, `orgKey#seq` for a seal or a published head, checkpoint id, archive id or data key. */
  id: string;
  reason: string;
}
