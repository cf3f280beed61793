import type { DestinationFormat, DestinationKind } from '../../../src/streaming/streaming.types';

/** An event as a test receiver got it: enough to check that each arrived, once, in order per organization. */
export interface ReceivedEvent {
  id: string;
  organizationId: string | null;
  /** The organization chain's seal sequence the event was sent with (json: chainSeq; ocsf: metadata.sequence; cef: cn1). */
  chainSeq: number;
  occurredAt: string;
  /** What arrived, parsed (for shape checks). */
  raw: unknown;
}

/** What a destination of this receiver is created with (the admin API's POST body fields). */
export interface ReceiverDestination {
  kind: DestinationKind;
  format: DestinationFormat;
  settings: Record<string, unknown>;
  secret: Record<string, string>;
}

/**
 * A real receiver of one destination kind, run by the test (rsyslog, the machine's NATS JetStream, s3rver, an
 * HTTP server speaking webhook / Splunk HEC / Datadog intake): it keeps what arrives, can go down and come
 * back (an outage), and is torn down at the end.
 */
export interface TestReceiver {
  readonly name: string;
  destination(format?: DestinationFormat): ReceiverDestination;
  /** Everything received so far, in arrival order (duplicates included). */
  received(): Promise<ReceivedEvent[]>;
  /** An outage: the receiver stops answering (process stopped, server closed). */
  stop(): Promise<void>;
  /** Back after an outage, at the same address. */
  start(): Promise<void>;
  destroy(): Promise<void>;
  /** The receiver program's own log (rsyslogd's messages), when it has one: for failure reports. */
  daemonLog?(): string;
}

/** An expected event that did not arrive, as the trail has it: for failure reports. */
export interface MissingEvent {
  id: string;
  organizationId: string | null;
  /** The seal (per-organization chain sequence) the event belongs to; null when not sealed yet. */
  sealSeq: string | null;
}

/**
 * Why a wait for every event failed, in a few lines: how many are missing, which seals of which
 * organizations they belong to (runs of seqs), the destination's status from the admin API, and the tails of
 * the receiver's and the streamer's logs.
 */
export function missingEventsReport(report: {
  name: string;
  expected: number;
  received: readonly ReceivedEvent[];
  missing: readonly MissingEvent[];
  status: unknown;
  receiverLog?: string;
  streamerLog?: string;
}): string {
  const distinct = new Set(report.received.map((e) => e.id)).size;
  const byOrg = new Map<string, { count: number; seals: Set<string> }>();
  for (const event of report.missing) {
    const org = event.organizationId ?? '(no org)';
    const entry = byOrg.get(org) ?? { count: 0, seals: new Set<string>() };
    entry.count++;
    entry.seals.add(event.sealSeq ?? 'unsealed');
    byOrg.set(org, entry);
  }
  const orgs = [...byOrg].map(
    ([org, { count, seals }]) => `${org}: ${count} in seals ${runs([...seals]).join(', ')}`,
  );
  const tail = (text = '', lines = 15) => text.trimEnd().split('\n').slice(-lines).join('\n    ');
  return [
    `${report.name}: ${report.missing.length} of ${report.expected} events missing ` +
      `(${report.received.length} received, ${distinct} distinct; e.g. ${report.missing
        .slice(0, 3)
        .map((e) => e.id)
        .join(', ')})`,
    `  missing by organization: ${orgs.join('; ') || 'none'}`,
    `  destination status: ${JSON.stringify(report.status)}`,
    `  receiver log (tail):\n    ${tail(report.receiverLog) || '(none)'}`,
    `  streamer log (tail):\n    ${tail(report.streamerLog) || '(none)'}`,
  ].join('\n');
}

/** Seal seqs as runs: 4, 5, 6, 9 -> "4-6", "9". */
function runs(seqs: string[]): string[] {
  const numbers = seqs
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .sort((a, b) => a - b);
  const out = seqs.filter((s) => !/^\d+$/.test(s));
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    out.push(i === j ? `${numbers[i]}` : `${numbers[i]}-${numbers[j]}`);
    i = j + 1;
  }
  return out;
}

/**
 * The delivery checks every streaming test makes: every expected id arrived, at least once; after dedupe by
 * id none is extra; per organization, first arrivals are in chain order (seal sequence, then time, then id).
 */
export function deliveryProblems(
  expectedIds: readonly string[],
  received: readonly ReceivedEvent[],
): string[] {
  const problems: string[] = [];
  const firstArrival = new Map<string, ReceivedEvent>();
  for (const event of received) if (!firstArrival.has(event.id)) firstArrival.set(event.id, event);
  const expected = new Set(expectedIds);
  const missing = expectedIds.filter((id) => !firstArrival.has(id));
  if (missing.length) problems.push(`${missing.length} missing (e.g. ${missing.slice(0, 3).join(', ')})`);
  const extra = [...firstArrival.keys()].filter((id) => !expected.has(id));
  if (extra.length) problems.push(`${extra.length} unexpected (e.g. ${extra.slice(0, 3).join(', ')})`);
  const last = new Map<string, ReceivedEvent>();
  for (const event of firstArrival.values()) {
    const org = event.organizationId ?? '';
    const previous = last.get(org);
    if (previous && compareChainOrder(previous, event) > 0)
      problems.push(
        `out of order in ${org || '(no org)'}: ${previous.id} (seq ${previous.chainSeq}) before ${event.id} (seq ${event.chainSeq})`,
      );
    last.set(org, event);
  }
  return problems;
}

function compareChainOrder(a: ReceivedEvent, b: ReceivedEvent): number {
  if (a.chainSeq !== b.chainSeq) return a.chainSeq - b.chainSeq;
  if (a.occurredAt !== b.occurredAt) return a.occurredAt < b.occurredAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
