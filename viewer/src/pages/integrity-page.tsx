import { useRef, useState } from 'preact/hooks';
import { type Identity, canReadAll, errorText, getStream, isAdmin, ndjsonLines } from '../api';
import { Message } from '../components/badges';
import { Link } from '../components/link';
import { useJson } from '../components/use-json';
import { formatAgo, formatCount, formatTime } from '../format';
import { eventHref } from '../router';

interface BrokenLink {
  kind: string;
  id: string;
  reason: string;
  organizationId?: string | null;
}
interface Verification {
  startedAt?: string;
  finishedAt?: string;
  ok: boolean;
  checkedEvents: number;
  firstBroken: BrokenLink | null;
  from?: string | null;
  to?: string | null;
}
interface Status {
  organizationId: string | null;
  lastVerification: Verification | null;
  newestCheckpoint: Record<string, unknown> | null;
  chain: Record<string, unknown> | null;
}
type Line =
  | { type: 'start'; totalEvents: number | null }
  | { type: 'progress'; checkedEvents: number; totalEvents: number | null }
  | ({ type: 'result' } & Verification)
  | { type: 'error'; message: string };

/** The organization's chain: last verification, newest signed checkpoint, and "verify now" with progress. */
export function IntegrityPage({ me }: { me: Identity }) {
  const [organizationId, setOrganizationId] = useState(me.org ?? '');
  const [run, setRun] = useState(0);
  const scope = organizationId ? { organizationId } : {};
  const status = useJson<Status>('integrity/status', scope, `${organizationId}|${run}`);
  return (
    <section aria-labelledby="integrity-title">
      <h1 id="integrity-title">Integrity</h1>
      {canReadAll(me) && (
        <label class="field">
          <span>Organization</span>
          <input
            type="search"
            value={organizationId}
            onChange={(e) => setOrganizationId((e.target as HTMLInputElement).value.trim())}
          />
        </label>
      )}
      {status.error && <Message kind="error">{status.error}</Message>}
      {status.data && <StatusView status={status.data} />}
      {isAdmin(me) ? (
        <VerifyNow organizationId={organizationId} onDone={() => setRun((n) => n + 1)} />
      ) : (
        <p>Verifying needs the audit:admin role.</p>
      )}
    </section>
  );
}

function Verdict({ result }: { result: Verification }) {
  const broken = result.firstBroken;
  return result.ok ? (
    <div class="verdict verdict-ok" role="status">
      <strong>Intact</strong>: {formatCount(result.checkedEvents)} events verified, every link of the chain
      holds.
    </div>
  ) : (
    <div class="verdict verdict-broken" role="alert">
      <strong>Broken chain</strong>: {broken?.reason ?? 'verification failed'}
      {broken && (
        <p>
          First broken {broken.kind}:{' '}
          {broken.kind === 'event' ? (
            <Link href={eventHref(broken.id)}>{broken.id}</Link>
          ) : (
            <code>{broken.id}</code>
          )}
        </p>
      )}
    </div>
  );
}

function StatusView({ status }: { status: Status }) {
  const last = status.lastVerification;
  return (
    <div class="cards">
      <section class="card" aria-labelledby="last-verify">
        <h2 id="last-verify">Last verification</h2>
        {last ? (
          <>
            <p>
              {formatTime(last.finishedAt ?? last.startedAt)} ({formatAgo(last.finishedAt ?? last.startedAt)})
            </p>
            <Verdict result={last} />
          </>
        ) : (
          <p>Never verified.</p>
        )}
      </section>
      <section class="card" aria-labelledby="newest-head">
        <h2 id="newest-head">Newest signed checkpoint</h2>
        <Fields value={status.newestCheckpoint} empty="No signed checkpoint yet." />
      </section>
      <section class="card" aria-labelledby="chain-state">
        <h2 id="chain-state">Chain</h2>
        <Fields value={status.chain} empty="No sealed events yet." />
      </section>
    </div>
  );
}

const label = (name: string) => name.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
const show = (name: string, value: unknown) =>
  typeof value === 'string' && /At$/.test(name)
    ? formatTime(value)
    : typeof value === 'number'
      ? formatCount(value)
      : String(value ?? '—');

function Fields({ value, empty }: { value: Record<string, unknown> | null; empty: string }) {
  if (!value) return <p>{empty}</p>;
  return (
    <dl class="context compact">
      {Object.entries(value).map(([name, v]) => (
        <div key={name}>
          <dt>{label(name)}</dt>
          <dd>{typeof v === 'object' && v !== null ? <code>{JSON.stringify(v)}</code> : show(name, v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function VerifyNow({ organizationId, onDone }: { organizationId: string; onDone: () => void }) {
  const [progress, setProgress] = useState<{ checked: number; total: number | null } | null>(null);
  const [result, setResult] = useState<Verification | null>(null);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const running = progress !== null && !result && !error;

  const verify = async () => {
    const controller = new AbortController();
    abort.current = controller;
    setResult(null);
    setError(null);
    setProgress({ checked: 0, total: null });
    try {
      const response = await getStream(
        'integrity/verify',
        { progress: 'ndjson', ...(organizationId ? { organizationId } : {}) },
        'application/x-ndjson',
        controller.signal,
      );
      for await (const raw of ndjsonLines(response)) {
        const line = raw as Line;
        if (line.type === 'start') setProgress({ checked: 0, total: line.totalEvents });
        else if (line.type === 'progress')
          setProgress({ checked: line.checkedEvents, total: line.totalEvents });
        else if (line.type === 'result') setResult(line);
        else if (line.type === 'error') setError(line.message);
      }
      onDone();
    } catch (caught) {
      setError(controller.signal.aborted ? 'Verification cancelled' : errorText(caught));
    }
  };

  const percent = progress?.total
    ? Math.min(100, Math.round((100 * progress.checked) / progress.total))
    : null;
  return (
    <section class="card" aria-labelledby="verify-title">
      <h2 id="verify-title">Verify now</h2>
      <p>Recomputes every event's hash and every link of the chain, against the signed checkpoints.</p>
      <button type="button" class="primary" disabled={running} onClick={verify}>
        {running ? 'Verifying…' : 'Verify now'}
      </button>
      {running && (
        <>
          <button type="button" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
          <div
            class="progress"
            role="progressbar"
            aria-label="Verification progress"
            aria-valuemin={0}
            aria-valuemax={progress?.total ?? undefined}
            aria-valuenow={progress?.checked ?? 0}
            aria-valuetext={`${formatCount(progress?.checked ?? 0)} of ${progress?.total != null ? formatCount(progress.total) : 'unknown'} events`}
          >
            <span style={{ width: `${percent ?? 5}%` }} />
          </div>
          <p>
            {formatCount(progress?.checked ?? 0)} of{' '}
            {progress?.total != null ? formatCount(progress.total) : '…'} events
          </p>
        </>
      )}
      {result && <Verdict result={result} />}
      {error && <Message kind="error">{error}</Message>}
    </section>
  );
}
