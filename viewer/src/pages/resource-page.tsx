import { AsOfPanel } from '../components/as-of-panel';
import { Message, StatusBadge } from '../components/badges';
import { Link } from '../components/link';
import { usePages } from '../components/use-pages';
import { changeSummary } from '../diff';
import { formatTime } from '../format';
import { actorHref, eventHref } from '../router';

/** Everything that happened to one record (changes and reads), oldest first, as the API pages it. */
export function ResourcePage({ type, id }: { type: string; id: string }) {
  const path = `resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}/history`;
  const pages = usePages(path, {}, path);
  return (
    <section aria-labelledby="resource-title">
      <h1 id="resource-title">
        History of {type} <code>{id}</code>
      </h1>
      {pages.error && <Message kind="error">{pages.error}</Message>}
      <ol class="timeline" aria-label="Events of this record, oldest first">
        {pages.events.map((e) => (
          <li key={e.id} class={`timeline-item action-${e.action}`}>
            <time dateTime={e.occurredAt}>{formatTime(e.occurredAt)}</time>
            <div>
              <Link href={eventHref(e.id)} class="timeline-action">
                {e.action}
              </Link>{' '}
              by{' '}
              {e.actorId ? (
                <Link href={actorHref(e.actorId, e.organizationId)}>{e.actorId}</Link>
              ) : (
                e.actorType
              )}{' '}
              <StatusBadge status={e.status} code={e.statusCode} />
              {e.reason && (
                <p class="summary">
                  Reason: <q class="reason">{e.reason}</q>
                </p>
              )}
              {e.changes && e.changes.length > 0 && <p class="summary">{changeSummary(e.changes)}</p>}
            </div>
          </li>
        ))}
      </ol>
      {!pages.loading && pages.events.length === 0 && !pages.error && <p>No events for this record.</p>}
      {pages.loading && <p aria-busy="true">Loading…</p>}
      {pages.hasMore && !pages.loading && (
        <button type="button" onClick={pages.loadMore}>
          Load more
        </button>
      )}
      <AsOfPanel type={type} id={id} />
    </section>
  );
}
