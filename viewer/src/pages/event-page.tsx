import { type AuditEvent, type Identity, isAdmin } from '../api';
import { RevertPanel } from '../components/revert-panel';
import { CellView, Message, SeverityBadge, StatusBadge } from '../components/badges';
import { Link } from '../components/link';
import { useJson } from '../components/use-json';
import { diffRows, membership } from '../diff';
import { formatTime } from '../format';
import { actorHref, requestHref, resourceHref, transactionHref } from '../router';

/** One event: its whole context, and its before/after states side by side with the changed fields marked. */
export function EventPage({ id, me }: { id: string; me: Identity }) {
  const { data: event, error, loading } = useJson<AuditEvent>(`events/${encodeURIComponent(id)}`, {}, id);
  if (error) return <Message kind="error">{error}</Message>;
  if (loading || !event) return <p aria-busy="true">Loading event…</p>;
  return (
    <article aria-labelledby="event-title">
      <h1 id="event-title">
        {event.eventType} <StatusBadge status={event.status} code={event.statusCode} />{' '}
        <SeverityBadge severity={event.severity} />
      </h1>
      <Context event={event} />
      <StateDiff event={event} />
      {isAdmin(me) &&
        ['create', 'update', 'revert'].includes(event.action) &&
        event.after != null &&
        event.resourceType &&
        event.resourceId &&
        event.status === 'success' && (
          <RevertPanel type={event.resourceType} id={event.resourceId} eventId={event.id} />
        )}
      {otherMetadata(event.metadata) && (
        <section aria-labelledby="metadata-title">
          <h2 id="metadata-title">Metadata</h2>
          <pre class="json">{JSON.stringify(otherMetadata(event.metadata), null, 2)}</pre>
        </section>
      )}
    </article>
  );
}

function Context({ event }: { event: AuditEvent }) {
  const rows: Array<[string, preact.ComponentChildren]> = [
    ['When', <time dateTime={event.occurredAt}>{formatTime(event.occurredAt)}</time>],
    [
      'Actor',
      event.actorId ? (
        <Link href={actorHref(event.actorId, event.organizationId)}>{event.actorId}</Link>
      ) : (
        '—'
      ),
    ],
    ['Actor type', event.actorType],
    ['Organization', event.organizationId ?? '—'],
    ['Action', event.action],
    [
      'Resource',
      event.resourceType && event.resourceId ? (
        <Link href={resourceHref(event.resourceType, event.resourceId)}>
          {event.resourceType} {event.resourceId} (history)
        </Link>
      ) : (
        (event.resourceType ?? '—')
      ),
    ],
    ['Request', event.method || event.route ? `${event.method ?? ''} ${event.route ?? ''}`.trim() : '—'],
    ['Status code', event.statusCode ?? '—'],
    ['Duration', event.durationMs != null ? `${event.durationMs} ms` : '—'],
    ['IP address', event.ip ?? '—'],
    ['User agent', event.userAgent ?? '—'],
    [
      'Request id',
      event.requestId ? (
        <Link href={requestHref(event.requestId)}>{event.requestId} (everything it did)</Link>
      ) : (
        '—'
      ),
    ],
    ['Event id', <code>{event.id}</code>],
  ];
  if (event.reason) rows.unshift(['Reason', <q class="reason">{event.reason}</q>]);
  if (event.transactionId)
    rows.push([
      'Transaction',
      <Link href={transactionHref(event.transactionId)}>{event.transactionId}</Link>,
    ]);
  if (event.errorMessage) rows.push(['Error', event.errorMessage]);
  return (
    <dl class="context">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function StateDiff({ event }: { event: AuditEvent }) {
  const rows = diffRows(event.before, event.after, event.changes);
  const changed = rows.filter((r) => r.changed).length;
  return (
    <section aria-labelledby="diff-title">
      <h2 id="diff-title">
        State before and after{' '}
        {rows.length > 0 && (
          <small>
            ({changed} changed of {rows.length} fields)
          </small>
        )}
      </h2>
      {rows.length === 0 ? (
        <p>This event carries no state.</p>
      ) : (
        <div class="table-wrap">
          <table class="diff">
            <caption class="visually-hidden">
              Fields of the record before and after, changed fields first
            </caption>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Before</th>
                <th scope="col">After</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.path} class={row.changed ? 'changed' : undefined} data-field={row.path}>
                  <th scope="row">
                    {row.path}
                    {row.changed && <span class="changed-mark"> changed</span>}
                    {(row.added || row.removed) && (
                      <span class="membership" data-membership>
                        {membership(row.added, row.removed)}
                      </span>
                    )}
                  </th>
                  <td class="before">
                    <CellView cell={row.before} />
                  </td>
                  <td class="after">
                    <CellView cell={row.after} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** The metadata beyond what the context already shows (reason, transaction): null when nothing is left. */
function otherMetadata(metadata: unknown): Record<string, unknown> | null {
  if (typeof metadata !== 'object' || metadata === null) return null;
  const { reason: _reason, transactionId: _transactionId, ...rest } = metadata as Record<string, unknown>;
  return Object.keys(rest).length ? rest : null;
}
