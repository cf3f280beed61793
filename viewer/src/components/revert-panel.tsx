import { useState } from 'preact/hooks';
import { errorText, postJson } from '../api';
import { eventHref } from '../router';
import { Link } from './link';
import { Message } from './badges';

interface Change {
  path: string;
  before?: unknown;
  after?: unknown;
}
interface RevertAnswer {
  dryRun: boolean;
  changes: Change[];
  skipped: Array<{ path: string; why: string }>;
  revertEventIds?: string[];
}

const text = (value: unknown) =>
  value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value);

/**
 * Restore the record to the state this event left it in: a dry run shows the changes first; confirming runs
 * the app's own update path (its business rules apply) and records a `revert` event linked to this one.
 */
export function RevertPanel({ type, id, eventId }: { type: string; id: string; eventId: string }) {
  const [reason, setReason] = useState('');
  const [preview, setPreview] = useState<RevertAnswer | null>(null);
  const [done, setDone] = useState<RevertAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const path = `resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}/revert`;
  const run = async (dryRun: boolean) => {
    setError(null);
    try {
      const answer = await postJson<RevertAnswer>(path, {
        toEventId: eventId,
        dryRun,
        ...(reason ? { reason } : {}),
      });
      if (dryRun) setPreview(answer);
      else setDone(answer);
    } catch (caught) {
      setError(errorText(caught));
    }
  };
  return (
    <section class="card" aria-labelledby="revert-title">
      <h2 id="revert-title">Restore this version</h2>
      <label class="field">
        <span>Reason</span>
        <input
          name="reason"
          value={reason}
          maxLength={500}
          onInput={(e) => setReason((e.target as HTMLInputElement).value)}
        />
      </label>
      <div class="form-actions">
        <button type="button" onClick={() => run(true)}>
          Preview the restore
        </button>
        {preview && !done && (
          <button
            type="button"
            class="primary"
            disabled={preview.changes.length === 0}
            onClick={() => run(false)}
          >
            Restore
          </button>
        )}
      </div>
      {error && <Message kind="error">{error}</Message>}
      {preview && (
        <table class="diff revert-preview">
          <caption>
            {preview.changes.length
              ? 'What the restore changes'
              : 'Nothing to change: the record is already so'}
          </caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Now</th>
              <th scope="col">Restored</th>
            </tr>
          </thead>
          <tbody>
            {preview.changes.map((c) => (
              <tr key={c.path} class="changed" data-field={c.path}>
                <th scope="row">{c.path}</th>
                <td>{text(c.before)}</td>
                <td>{text(c.after)}</td>
              </tr>
            ))}
            {preview.skipped.map((s) => (
              <tr key={`skip-${s.path}`} data-skipped={s.path}>
                <th scope="row">{s.path}</th>
                <td colSpan={2}>not restored: {s.why}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {done && (
        <p class="verdict verdict-ok" role="status">
          Restored.{' '}
          {done.revertEventIds?.map((revertId) => (
            <Link key={revertId} href={eventHref(revertId)}>
              See the revert event
            </Link>
          ))}
        </p>
      )}
    </section>
  );
}
