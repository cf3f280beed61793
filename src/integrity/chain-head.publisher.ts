import { Logger } from '@nestjs/common';
import { PoolClient } from 'pg';
import { ChainHeadStore, mapLimit } from './chain-head.store';
import { CheckpointSigner } from './checkpoint-signer';
import { ChainHead, IntegrityMaintenanceRepository } from './integrity-maintenance.repository';

const READ_CONCURRENCY = 8;

export interface PublishResult {
  /** Heads written (they had moved). */
  published: number;
  /** Organizations whose chain no longer extends their published head: left as they are, as evidence. */
  refused: string[];
}

/**
 * Publishes each organization's chain head, signed, to the ChainHeadStore when it moved. A head is only
 * ever replaced by one that extends it (the database still holds the published seal, unchanged): a chain
 * cut short, or cut and grown again, would otherwise overwrite the proof of what it lost.
 */
export class ChainHeadPublisher {
  private readonly logger = new Logger(ChainHeadPublisher.name);
  /** Heads this process saw in the store, by organization: an unchanged head costs no read. */
  private readonly published = new Map<string, { seq: string; sealHash: Buffer }>();
  private indexed: Set<string> | null = null;

  constructor(
    private readonly store: ChainHeadStore,
    private readonly signer: CheckpointSigner,
    private readonly maintenance: IntegrityMaintenanceRepository,
  ) {}

  async publish(client: PoolClient, database: string, now: Date): Promise<PublishResult> {
    const same = (a: { seq: string; sealHash: Buffer } | null | undefined, b: ChainHead) =>
      !!a && a.seq === b.seq && a.sealHash.equals(b.sealHash);
    const moved = (await this.maintenance.currentHeads(client)).filter(
      (h) => !same(this.published.get(h.orgKey), h),
    );
    // Always the stored head, not this process's memory of it: another replica may have published since.
    const stored = await mapLimit(moved, READ_CONCURRENCY, (h) => this.store.read(database, h.orgKey));
    const stillThere = await this.maintenance.sealHashes(
      client,
      moved.flatMap((h, i) => (stored[i] ? [{ orgKey: h.orgKey, seq: stored[i].seq }] : [])),
    );
    const writable: ChainHead[] = [];
    const refused: string[] = [];
    moved.forEach((head, i) => {
      const last = stored[i];
      if (same(last, head)) this.published.set(head.orgKey, last!);
      else if (
        !last ||
        (BigInt(head.seq) > BigInt(last.seq) && stillThere.get(head.orgKey)?.equals(last.sealHash))
      )
        writable.push(head);
      else refused.push(head.orgKey);
    });
    await this.index(database, writable, now);
    for (const head of writable) {
      await this.store.write(database, this.signer.signHead({ ...head, signedAt: now.toISOString() }));
      this.published.set(head.orgKey, { seq: head.seq, sealHash: head.sealHash });
    }
    if (refused.length > 0)
      this.logger.error(
        `Chain head(s) of ${refused.map((k) => JSON.stringify(k)).join(', ')} no longer extend the published ` +
          'head (events or seals deleted or rewritten?): not overwritten; `GET /audit/integrity/verify` says what is missing',
      );
    return { published: writable.length, refused };
  }

  /** The index lists every organization before its first head is written (re-read: replicas add to it). */
  private async index(database: string, heads: ChainHead[], now: Date): Promise<void> {
    if (this.indexed && heads.every((h) => this.indexed!.has(h.orgKey))) return;
    const listed = new Set((await this.store.readIndex(database))?.orgKeys ?? []);
    const added = heads.map((h) => h.orgKey).filter((k) => !listed.has(k));
    if (added.length > 0) await this.store.writeIndex(database, [...listed, ...added].sort(), now);
    this.indexed = new Set([...listed, ...added]);
  }
}
