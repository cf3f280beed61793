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

  /** `orgKeys` undefined: every chain, in one pass over the events. */
  async verify(range: VerifyRange, orgKeys?: string[]): Promise<VerifyReport> {
    // One snapshot for chains and events: writers keep committing batches while this runs.
    return this.repository.inSnapshot((repository) => this.verifyIn(repository, range, orgKeys));
  }

  private async verifyIn(
    repository: IntegrityRepository,
    range: VerifyRange,
    orgKeys?: string[],
  ): Promise<VerifyReport> {
    const keys = orgKeys ?? (await repository.orgKeys());
    const verifiers = new Map<string, ChainVerifier>();
    for (const orgKey of keys) verifiers.set(orgKey, await this.chainVerifier(repository, orgKey, range));
    const windows = [...verifiers.values()].map((v) => v.eventWindow());
    const window = {
      fromMicros: range.from
        ? windows.reduce((min, w) => (w.fromMicros! < min ? w.fromMicros! : min), micros(range.from)!)
        : null,
      toMicros: range.to
        ? windows.reduce((max, w) => (w.toMicros! > max ? w.toMicros! : max), micros(range.to)!)
        : null,
    };
    await repository.streamEvents(orgKeys?.length === 1 ? orgKeys[0] : null, window, (event, orgKey) => {
      let verifier = verifiers.get(orgKey);
      if (!verifier && orgKeys) return; // another organization's event (several asked for)
      // Events of an organization that has no chain at all: nothing seals them.
      if (!verifier) verifiers.set(orgKey, (verifier = this.emptyChain(orgKey, range)));
      verifier.addEvent(event);
    });
    const chains = [...verifiers.values()].map((v) => v.finish());
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

  private emptyChain(orgKey: string, range: VerifyRange): ChainVerifier {
    return new ChainVerifier({
      orgKey,
      fromMicros: micros(range.from),
      toMicros: micros(range.to),
      seals: [],
      head: null,
      pendingBatches: new Set(),
      checkpoints: [],
      publicKeys: this.publicKeys,
    });
  }

  private async chainVerifier(
    repository: IntegrityRepository,
    orgKey: string,
    range: VerifyRange,
  ): Promise<ChainVerifier> {
    const [seals, head, pendingBatches, checkpoints, archivedRanges, outsideLeaves] = await Promise.all([
      repository.seals(orgKey),
      repository.head(orgKey),
      repository.pendingBatches(orgKey),
      repository.checkpoints(orgKey),
      repository.archivedRanges(),
      repository.archivedLeaves(orgKey),
    ]);
    return new ChainVerifier({
      orgKey,
      fromMicros: micros(range.from),
      toMicros: micros(range.to),
      seals,
      head,
      pendingBatches,
      checkpoints,
      publicKeys: this.publicKeys,
      archivedRanges,
      outsideLeaves,
    });
  }
}
