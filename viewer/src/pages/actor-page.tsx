import { useMemo } from 'preact/hooks';
import { type Identity, canReadAll } from '../api';
import { Message } from '../components/badges';
import { EventTable } from '../components/event-table';
import { useJson } from '../components/use-json';
import { usePages } from '../components/use-pages';
import { formatCount } from '../format';

interface Summary {
  actorId: string;
  from: string;
  to: string;
  total: number;
  items: Array<{ action: string; events: number; failures: number }>;
}

/** What one actor did: counts per action over the last 30 days, then every event, newest first. */
export function ActorPage({ id, search, me }: { id: string; search: string; me: Identity }) {
  const organizationId = new URLSearchParams(search).get('organizationId') ?? undefined;
  const scope: Record<string, string> = canReadAll(me) && organizationId ? { organizationId } : {};
  const key = `${id}|${organizationId ?? ''}`;
  const base = `actors/${encodeURIComponent(id)}`;
  const summary = useJson<Summary>(`${base}/summary`, scope, key);
  const params = useMemo(() => scope, [key]);
  const pages = usePages(`${base}/activity`, params, key);
  const max = Math.max(1, ...(summary.data?.items.map((i) => i.events) ?? []));
  return (
    <section aria-labelledby="actor-title">
      <h1 id="actor-title">
        Activity of <code>{id}</code>
      </h1>
      <h2>Last 30 days by action</h2>
      {summary.error && <Message kind="error">{summary.error}</Message>}
      {summary.data && (
        <table class="counts">
          <caption class="visually-hidden">Events per action</caption>
          <thead>
            <tr>
              <th scope="col">Action</th>
              <th scope="col">Events</th>
              <th scope="col">Failures</th>
            </tr>
          </thead>
          <tbody>
            {summary.data.items.map((item) => (
              <tr key={item.action}>
                <th scope="row">{item.action}</th>
                <td>
                  <span class="bar" style={{ width: `${(100 * item.events) / max}%` }} aria-hidden="true" />
                  {formatCount(item.events)}
                </td>
                <td>{formatCount(item.failures)}</td>
              </tr>
            ))}
            <tr>
              <th scope="row">All actions</th>
              <td>{formatCount(summary.data.total)}</td>
              <td />
            </tr>
          </tbody>
        </table>
      )}
      <h2>Events, newest first</h2>
      {pages.error && <Message kind="error">{pages.error}</Message>}
      <EventTable
        label={`Events of ${id}, newest first`}
        events={pages.events}
        hasMore={pages.hasMore}
        loading={pages.loading}
        onLoadMore={pages.loadMore}
        showOrganization={canReadAll(me)}
      />
    </section>
  );
}
