import { VerifyReport } from './database-verifier';

/** A verification as the status shows it (one row of audit_verifications). */
export interface VerificationView {
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  checkedEvents: number;
  /** `{kind, id, reason, organizationId}` of the first problem, or null. */
  firstBroken: VerifyReport['firstBroken'];
  /** The event-time range verified, [from, to); null = open. */
  from: string | null;
  to: string | null;
}

/** What `GET <admin>/integrity/status` answers. */
export interface IntegrityStatus {
  /** The organization the status is of; null: every chain (audit:read:all without organizationId). */
  organizationId: string | null;
  /** The latest verification run through the API for it (null: never). */
  lastVerification: VerificationView | null;
  /** The newest signed checkpoint as stored (not re-verified here: a verification checks it). */
  newestCheckpoint: {
    id: string;
    organizationId: string | null;
    /** The seal (position in the chain) it signs. */
    seq: string;
    signedAt: string;
    keyId: string;
  } | null;
  /** The chain as stored; null when it has no seal and nothing queued. */
  chain: {
    /** Seals in the chain (one per batch). */
    seals: number;
    /** Events the seals cover. */
    sealedEvents: number;
    /** When the newest seal was written. */
    lastSealAt: string | null;
    /** Batches captured in application transactions, queued for chaining (not sealed yet). */
    pendingBatches: number;
  } | null;
}

/** One row of audit_verifications, as inserted. */
export interface VerificationRecord {
  organization_id: string | null;
  started_at: string;
  finished_at: string;
  ok: boolean;
  checked_events: number;
  first_broken: VerifyReport['firstBroken'];
  range_from: string | null;
  range_to: string | null;
  trigger: 'api';
  actor_id: string | null;
}

/**
 * The rows a verification leaves: one per chain of the report (organization '' = events without one), each
 * with that chain's own outcome, so an organization's status is always its own latest row; and for a run
 * over every chain (`scope` undefined) one more with a null organization and the run's overall outcome. A
 * report-level failure (the published heads' index unreadable) fails every chain's row too.
 */
export function verificationRecords(
  report: VerifyReport,
  scope: string | undefined,
  run: { startedAt: Date; finishedAt: Date; actorId: string | null },
): VerificationRecord[] {
  const base = {
    started_at: run.startedAt.toISOString(),
    finished_at: run.finishedAt.toISOString(),
    range_from: report.from,
    range_to: report.to,
    trigger: 'api' as const,
    actor_id: run.actorId,
  };
  const runBroken = report.publishedHeads?.indexError ? report.firstBroken : null;
  const rows: VerificationRecord[] = report.chains.map((chain) => ({
    ...base,
    organization_id: chain.organizationId ?? '',
    ok: chain.ok && !runBroken,
    checked_events: chain.checkedEvents,
    first_broken: chain.firstBroken
      ? { ...chain.firstBroken, organizationId: chain.organizationId }
      : runBroken,
  }));
  // The run's own row: over every chain, or (never expected) an organization that got no chain report.
  if (scope === undefined || !rows.some((r) => r.organization_id === scope))
    rows.push({
      ...base,
      organization_id: scope ?? null,
      ok: report.ok,
      checked_events: report.checkedEvents,
      first_broken: report.firstBroken,
    });
  return rows;
}
