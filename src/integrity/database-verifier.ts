import { KeyObject } from 'node:crypto';
import { ChainReport, ChainVerifier } from 'src/integrity/chain-verifier';
import { IntegrityRepository } from 'src/integrity/integrity.repository';

export interface VerifyRange {
  from?: Date;
  to?: Date;
}

export interface VerifyReport {
  ok: boolean;
  from: string | null;
  to: string | null;
  checkedEvents: number;
  /** The first problem of the first broken chain, with its organization. */
  firstBroken: (ChainReport['firstBroken'] & { organizationId: string | null }) | null;
  chains: ChainReport[];
}

const micros = (date: Date | undefined) => (date ? BigInt(date.getTime()) * 1000n : null);

/**
 * Verifies organization chains against the database, one after the other: loads the chain (seals,
 * head, queued batches, checkpoints), streams the events of the range through the verifier. Used by
 * the API and by `npm run integrity -- verify`.
 */
export class DatabaseVerifier {
  constructor(
    private readonly repository: IntegrityRepository,
    private readonly publicKeys: Map<string, KeyObject>,
  ) {}

  /** `orgKeys` undefined: every chain. */
  async verify(range: VerifyRange, orgKeys?: string[]): Promise<VerifyReport> {
    const chains: ChainReport[] = [];
    for (const orgKey of orgKeys ?? (await this.repository.orgKeys())) {
      chains.push(await this.verifyChain(orgKey, range));
    }
    const broken = chains.find((c) => c.firstBroken);
    return {
      ok: !broken,
      from: range.from?.toISOString() ?? null,
      to: range.to?.toISOString() ?? null,
      checkedEvents: chains.reduce((n, c) => n + c.checkedEvents, 0),
      firstBroken: broken ? { ...broken.firstBroken!, organizationId: broken.organizationId } : null,
      chains,
    };
  }

  async verifyChain(orgKey: string, range: VerifyRange): Promise<ChainReport> {
    const [seals, head, pendingBatches, checkpoints] = await Promise.all([
      this.repository.seals(orgKey),
      this.repository.head(orgKey),
      this.repository.pendingBatches(orgKey),
      this.repository.checkpoints(orgKey),
    ]);
    const verifier = new ChainVerifier({
      orgKey,
      fromMicros: micros(range.from),
      toMicros: micros(range.to),
      seals,
      head,
      pendingBatches,
      checkpoints,
      publicKeys: this.publicKeys,
    });
    await this.repository.streamEvents(orgKey, verifier.eventWindow(), (event) => verifier.addEvent(event));
    return verifier.finish();
  }
}
