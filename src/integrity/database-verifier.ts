import { KeyObject } from 'node:crypto';
import { ExternalHead, ExternalHeadSource } from './chain-head';
import { ChainReport, ChainVerifier, StoredSeal, VerifiedEvent } from './chain-verifier';
import { IntegrityRepository } from './integrity.repository';

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
  /**
   * Whether the chains were checked against their heads published outside the database (a deleted tail),
   * and why the index of those heads could not be read, if it could not (database verification only).
   */
  publishedHeads?: { checked: boolean; indexError?: string };
  chains: ChainReport[];
}

/** Told how a verification advances (the API's streamed verify). Called on the verifier's path: keep it cheap. */
export interface VerifyProgress {
  /**
   * Once, before the events are read: the events the seals of the range count (what the verifier expects to
   * read), or null when no seal lies in the range.
   */
  start(totalEvents: number | null): void;
  /** After every event read, with the number read so far (events just outside the range included). */
  read(readEvents: number): void;
}

const micros = (date: Date | undefined) => (date ? BigInt(date.getTime()) * 1000n : null);

type Window = { fromMicros: bigint | null; toMicros: bigint | null };

/** Below this many sealed events one stream is as fast: a second one only adds a scan. */
const MIN_EVENTS_PER_STREAM = 50_000;

/**
 * Cuts `window` into up to `streams` windows of about equal numbers of events (by the seals' counts and
 * first event times), at whole milliseconds so that each cut is exact in both windows' SQL bounds.
 */
export function splitWindow(
  window: Window,
  seals: StoredSeal[],
  streams: number,
  minEventsPerStream = MIN_EVENTS_PER_STREAM,
): Window[] {
  const total = seals.reduce((n, s) => n + s.eventCount, 0);
  const parts = Math.min(streams, Math.floor(total / minEventsPerStream));
  if (parts < 2) return [window];
  const starts = seals
    .map((s) => ({ at: BigInt(s.firstAtMicros), count: s.eventCount }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const cuts: bigint[] = [];
  let seen = 0;
  for (const { at, count } of starts) {
    const cut = (at / 1000n) * 1000n;
    const last = cuts.length ? cuts[cuts.length - 1] : window.fromMicros;
    const inside = (last === null || cut > last) && (window.toMicros === null || cut < window.toMicros);
    if (seen >= (total * (cuts.length + 1)) / parts && inside) cuts.push(cut);
    if (cuts.length === parts - 1) break;
    seen += count;
  }
  const bounds = [window.fromMicros, ...cuts, window.toMicros];
  return cuts.length === 0
    ? [window]
    : bounds.slice(1).map((toMicros, i) => ({ fromMicros: bounds[i], toMicros }));
}

/**
 * Verifies organization chains against the database, one after the other: loads the chain (seals,
 * head, queued batches, checkpoints), streams the events of the range through the verifier. Used by
 * the API and by `npm run integrity -- verify`.
 */
export class DatabaseVerifier {
  /**
   * `streams`: events are read with up to this many COPY streams at once (cut by event time). Postgres
   * prints a row's jsonb text and the COPY line in the backend that runs the COPY: one stream is bound to
   * one core of the database server.
   */
  constructor(
    private readonly repository: IntegrityRepository,
    private readonly publicKeys: Map<string, KeyObject>,
    private readonly streams = 2,
    /** Tests lower it to exercise the parallel streams on small data. */
    private readonly minEventsPerStream = MIN_EVENTS_PER_STREAM,
  ) {}

  /**
   * `orgKeys` undefined: every chain (those of the database and those with a published head), in one pass
   * over the events. `heads`: the heads published outside the database, to prove no tail was deleted.
   */
  async verify(
    range: VerifyRange,
    orgKeys?: string[],
    heads?: ExternalHeadSource,
    progress?: VerifyProgress,
  ): Promise<VerifyReport> {
    // Read before the snapshot is taken: every head found was published from a state committed before it,
    // so a chain that ends before its head in the snapshot did lose seals (not just gain them meanwhile).
    const published = heads ? await heads.load(orgKeys) : undefined;
    // One snapshot for chains and events: writers keep committing batches while this runs.
    const report = await this.repository.inSnapshot((repository) =>
      this.verifyIn(repository, range, orgKeys, published?.heads, progress),
    );
    const indexError = published?.indexError;
    report.publishedHeads = { checked: !!published, ...(indexError ? { indexError } : {}) };
    if (indexError) {
      report.ok = false;
      report.firstBroken ??= {
        kind: 'head',
        id: 'index',
        reason: `the index of published chain heads could not be read: ${indexError}`,
        organizationId: null,
      };
    }
    return report;
  }

  private async verifyIn(
    repository: IntegrityRepository,
    range: VerifyRange,
    orgKeys?: string[],
    heads?: Map<string, ExternalHead>,
    progress?: VerifyProgress,
  ): Promise<VerifyReport> {
    // Every chain: also those only the published heads still know of (deleted whole from the database).
    const keys = orgKeys ?? [...new Set([...(await repository.orgKeys()), ...(heads?.keys() ?? [])])];
    const verifiers = new Map<string, ChainVerifier>();
    for (const orgKey of keys)
      verifiers.set(orgKey, await this.chainVerifier(repository, orgKey, range, heads?.get(orgKey)));
    const windows = [...verifiers.values()].map((v) => v.eventWindow());
    const window = {
      fromMicros: range.from
        ? windows.reduce((min, w) => (w.fromMicros! < min ? w.fromMicros! : min), micros(range.from)!)
        : null,
      toMicros: range.to
        ? windows.reduce((max, w) => (w.toMicros! > max ? w.toMicros! : max), micros(range.to)!)
        : null,
    };
    let read = 0;
    const onEvent = (event: VerifiedEvent, orgKey: string) => {
      if (progress) progress.read(++read);
      let verifier = verifiers.get(orgKey);
      if (!verifier && orgKeys) return; // another organization's event (several asked for)
      // Events of an organization that has no chain at all: nothing seals them.
      if (!verifier) verifiers.set(orgKey, (verifier = this.emptyChain(orgKey, range)));
      verifier.addEvent(event);
    };
    const seals = [...verifiers.values()].flatMap((v) => v.sealsInRange());
    progress?.start(seals.length ? seals.reduce((n, s) => n + s.eventCount, 0) : null);
    const orgKey = orgKeys?.length === 1 ? orgKeys[0] : null;
    // The chain verifiers take events in any order: the windows are streamed at the same time, the first
    // on the snapshot's connection, the others on connections that import its snapshot.
    const [first, ...others] = splitWindow(
      window,
      seals,
      // This connection plus the spare ones: never wait for a connection while holding one.
      Math.min(this.streams, 1 + this.repository.spareConnections()),
      this.minEventsPerStream,
    );
    const snapshot = others.length > 0 ? await repository.exportSnapshot() : null;
    await Promise.all([
      repository.streamEvents(orgKey, first, onEvent),
      ...others.map((part) =>
        repository.inSnapshot((sibling) => sibling.streamEvents(orgKey, part, onEvent), snapshot!),
      ),
    ]);
    const chains = [...verifiers.values()].map((v) => v.finish());
    const broken = chains.find((c) => c.firstBroken);
    return {
      ok: !broken,
      from: range.from?.toISOString() ?? null,
      to: range.to?.toISOString() ?? null,
      checkedEvents: chains.reduce((n, c) => n + c.checkedEvents, 0),
      firstBroken: broken ? { ...broken.firstBroken!, organizationId: broken.organizationId } : null,
      publishedHeads: { checked: false },
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
    externalHead?: ExternalHead,
  ): Promise<ChainVerifier> {
    // One after the other: they share the snapshot's connection, which runs one query at a time anyway
    // (pg queues concurrent calls on a client, deprecated and gone in pg 9).
    const seals = await repository.seals(orgKey);
    const head = await repository.head(orgKey);
    const pendingBatches = await repository.pendingBatches(orgKey);
    const checkpoints = await repository.checkpoints(orgKey);
    const archivedRanges = await repository.archivedRanges();
    const outsideLeaves = await repository.archivedLeaves(orgKey);
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
      externalHead,
    });
  }
}
