import { ChainReport } from './chain-verifier';
import { VerifyReport } from './database-verifier';
import { verificationRecords } from './verification';

const chain = (organizationId: string | null, checkedEvents: number, broken = false): ChainReport => ({
  organizationId,
  ok: !broken,
  checkedEvents,
  checkedSeals: 1,
  sealsInRange: 1,
  pendingEvents: 0,
  firstBroken: broken ? { kind: 'event', id: 'e-1', reason: 'content does not match the event hash' } : null,
  problems: broken ? 1 : 0,
  checkpoint: null,
  unsignedSeals: 0,
  externalHead: null,
});

const reportOf = (chains: ChainReport[], extra: Partial<VerifyReport> = {}): VerifyReport => {
  const broken = chains.find((c) => c.firstBroken);
  return {
    ok: !broken,
    from: '2026-11-01T00:00:00.000Z',
    to: null,
    checkedEvents: chains.reduce((n, c) => n + c.checkedEvents, 0),
    firstBroken: broken ? { ...broken.firstBroken!, organizationId: broken.organizationId } : null,
    publishedHeads: { checked: false },
    chains,
    ...extra,
  };
};

const run = {
  startedAt: new Date('2026-12-01T10:00:00Z'),
  finishedAt: new Date('2026-12-01T10:00:01Z'),
  actorId: 'root',
};

describe('verificationRecords', () => {
  it('records an organization run as that organization row', () => {
    expect(verificationRecords(reportOf([chain('org-a', 5)]), 'org-a', run)).toEqual([
      {
        organization_id: 'org-a',
        started_at: '2026-12-01T10:00:00.000Z',
        finished_at: '2026-12-01T10:00:01.000Z',
        ok: true,
        checked_events: 5,
        first_broken: null,
        range_from: '2026-11-01T00:00:00.000Z',
        range_to: null,
        trigger: 'api',
        actor_id: 'root',
      },
    ]);
  });

  it("records a run over every chain per chain, each with its own outcome, and the run's own row", () => {
    const rows = verificationRecords(
      reportOf([chain('org-a', 5), chain('org-b', 7, true), chain(null, 2)]),
      undefined,
      run,
    );
    expect(
      rows.map((r) => [r.organization_id, r.ok, r.checked_events, r.first_broken?.organizationId]),
    ).toEqual([
      ['org-a', true, 5, undefined],
      ['org-b', false, 7, 'org-b'],
      ['', true, 2, undefined],
      [null, false, 14, 'org-b'],
    ]);
  });

  it('fails every chain when the published heads could not be read', () => {
    const indexBroken = { kind: 'head' as const, id: 'index', reason: 'unreadable', organizationId: null };
    const report = reportOf([chain('org-a', 5)], {
      ok: false,
      firstBroken: indexBroken,
      publishedHeads: { checked: true, indexError: 'unreadable' },
    });
    expect(verificationRecords(report, 'org-a', run)).toMatchObject([
      { organization_id: 'org-a', ok: false, first_broken: indexBroken },
    ]);
  });

  it('still records a scoped run that reported no chain for the organization', () => {
    expect(verificationRecords(reportOf([]), 'org-x', run)).toMatchObject([
      { organization_id: 'org-x', ok: true, checked_events: 0 },
    ]);
  });
});
