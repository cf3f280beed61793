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
