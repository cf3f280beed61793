import { AuditService } from '../../src/audit/audit.service';
import { AuditEvent, RecordAuditEventInput } from '../../src/audit/audit.types';
import { PersonalDataService } from '../../src/audit/personal-data/personal-data.service';
import { toQueued } from '../../src/audit/queued-event';

/** CPU microseconds per event of each in-process stage of `record()`, the writer's COPY path excluded. */
export interface StageCosts {
  /** Redaction, size cap, diff, serialization: the event object (`AuditService` building it). */
  buildUs: number;
  /** Personal data encrypted with per-subject keys. */
  protectUs: number;
  /** The COPY line: jsonb text of the states, escaping, event hash (`toQueued`). */
  encodeUs: number;
}

const cpuUs = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/**
 * Runs the stages one after another over `count` events (the same inputs as the pipeline runs), each timed
 * on its own: where the Node CPU of a pipeline run goes, the rest being the writer (COPY, seals, GC of it).
 */
export function measureStages(
  audit: AuditService,
  personal: PersonalDataService,
  inputs: readonly RecordAuditEventInput[],
  count: number,
): StageCosts {
  // The service's own builder, as record() calls it (private: a benchmark may look inside).
  const build = (input: RecordAuditEventInput) =>
    (audit as unknown as { build(input: RecordAuditEventInput): AuditEvent | null }).build(input)!;
  let started = cpuUs();
  const events = new Array<AuditEvent>(count);
  for (let i = 0; i < count; i++) events[i] = build(inputs[i % inputs.length]);
  const buildUs = cpuUs() - started;
  started = cpuUs();
  const protectedEvents = events.map((event) => personal.protect(event));
  const protectUs = cpuUs() - started;
  started = cpuUs();
  let bytes = 0;
  for (const { event, keys } of protectedEvents) bytes += toQueued(event, keys).line.length;
  const encodeUs = cpuUs() - started;
  if (bytes === 0) throw new Error('nothing encoded');
  const per = (us: number) => Number((us / count).toFixed(1));
  return { buildUs: per(buildUs), protectUs: per(protectUs), encodeUs: per(encodeUs) };
}
