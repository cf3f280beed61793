import { useState } from 'preact/hooks';
import { errorText, getJson } from '../api';
import { diffRows } from '../diff';
import { formatTime } from '../format';
import { eventHref } from '../router';
import { fromLocalInput, toLocalInput } from '../search-state';
import { CellView, Message } from './badges';
import { Link } from './link';

interface AsOf {
  at: string;
  exists: boolean;
  state: Record<string, unknown> | null;
  version: { eventId: string; occurredAt: string; action: string; actorId: string | null } | null;
}

/** "What did this record look like then?": its state at an instant, rebuilt from its history. */
export function AsOfPanel({ type, id }: { type: string; id: string }) {
  const [at, setAt] = useState(() => new Date().toISOString());
  const [result, setResult] = useState<AsOf | null>(null);
  const [error, setError] = useState<string | null>(null);
  const show = async (event: Event) => {
    event.preventDefault();
    try {
      const path = `resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}/as-of`;
      setResult(await getJson<AsOf>(path, { at }));
      setError(null);
    } catch (caught) {
      setResult(null);
      setError(errorText(caught));
    }
  };
  return (
    <section class="card" aria-labelledby="as-of-title">
      <h2 id="as-of-title">The record as it was</h2>
      <form class="toolbar" onSubmit={show}>
        <label class="field">
          <span>As of</span>
          <input
            name="at"
            type="datetime-local"
            step={1}
            value={toLocalInput(at)}
            onInput={(e) => setAt(fromLocalInput((e.target as HTMLInputElement).value) ?? at)}
          />
        </label>
        <button type="submit">Show</button>
      </form>
      {error && <Message kind="error">{error}</Message>}
      {result && !result.exists && (
        <p class="as-of-verdict" role="status">
          {result.version
            ? `Deleted at ${formatTime(result.at)} (${result.version.action} at ${formatTime(result.version.occurredAt)}).`
            : `No history before ${formatTime(result.at)}: the record did not exist yet.`}
        </p>
      )}
      {result?.exists && result.state && (
        <>
          <p class="as-of-verdict" role="status">
            As left by the {result.version?.action} of {formatTime(result.version?.occurredAt)}
            {result.version && (
              <>
                {' '}
                (<Link href={eventHref(result.version.eventId)}>event</Link>)
              </>
            )}
          </p>
          <table class="as-of-state">
            <caption class="visually-hidden">Fields of the record at that instant</caption>
            <tbody>
              {diffRows(result.state, result.state, []).map((row) => (
                <tr key={row.path} data-field={row.path}>
                  <th scope="row">{row.path}</th>
                  <td>
                    <CellView cell={row.after} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
