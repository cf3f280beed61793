import { type Identity, canReadAll } from '../api';
import { Message } from '../components/badges';
import { EventTable } from '../components/event-table';
import { usePages } from '../components/use-pages';

const NO_PARAMS = {};

/** Everything one request or one database transaction did, across resources, oldest first. */
export function GroupPage({ kind, id, me }: { kind: 'request' | 'transaction'; id: string; me: Identity }) {
  const path = `${kind === 'request' ? 'requests' : 'transactions'}/${encodeURIComponent(id)}`;
  const pages = usePages(path, NO_PARAMS, path);
  const title = kind === 'request' ? 'Request' : 'Transaction';
  return (
    <section aria-labelledby="group-title">
      <h1 id="group-title">
        {title} <code>{id}</code>
      </h1>
      <p>Every event of this {kind}, across resources, oldest first.</p>
      {pages.error && <Message kind="error">{pages.error}</Message>}
      <EventTable
        label={`Events of ${kind} ${id}, oldest first`}
        events={pages.events}
        hasMore={pages.hasMore}
        loading={pages.loading}
        onLoadMore={pages.loadMore}
        showOrganization={canReadAll(me)}
      />
    </section>
  );
}
