import { useEffect, useRef, useState } from 'preact/hooks';
import type { AuditEvent } from '../api';
import { formatTime, tableTime } from '../format';
import { eventHref, navigate } from '../router';
import { SeverityBadge, StatusBadge } from './badges';
import { useVirtualizer } from './use-virtual';

export const ROW_HEIGHT = 40;

interface Props {
  events: AuditEvent[];
  /** More pages exist: reaching the end loads the next one. */
  hasMore: boolean;
  loading: boolean;
  onLoadMore: () => void;
  showOrganization: boolean;
  label: string;
}

/**
 * The results: a grid whose rows are virtualized (only the visible ones, plus a margin, are in the DOM,
 * however many pages were loaded). Arrow keys, Page Up/Down, Home/End move through rows; Enter opens one.
 */
export function EventTable({ events, hasMore, loading, onLoadMore, showOrganization, label }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const virtualizer = useVirtualizer({
    count: events.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
  });
  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1];

  useEffect(() => {
    if (hasMore && !loading && last && last.index >= events.length - 20) onLoadMore();
  }, [hasMore, loading, last?.index, events.length]);

  const move = (index: number) => {
    const next = Math.max(0, Math.min(events.length - 1, index));
    setActive(next);
    virtualizer.scrollToIndex(next, { align: 'auto' });
  };
  const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? 400) / ROW_HEIGHT) - 1);
  const onKeyDown = (event: KeyboardEvent) => {
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(active + 1),
      ArrowUp: () => move(active - 1),
      PageDown: () => move(active + page),
      PageUp: () => move(active - page),
      Home: () => move(0),
      End: () => move(events.length - 1),
      Enter: () => events[active] && navigate(eventHref(events[active].id)),
    };
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  };

  const columns = showOrganization ? 'cols-org' : 'cols';
  return (
    <div class="event-table">
      <div class={`grid-header ${columns}`} aria-hidden="true">
        <span>Time</span>
        {showOrganization && <span class="col-org">Organization</span>}
        <span>Actor</span>
        <span>Action</span>
        <span class="col-resource">Resource</span>
        <span>Status</span>
        <span class="col-severity">Severity</span>
      </div>
      <div
        ref={scroller}
        class="grid-scroll"
        role="grid"
        aria-label={label}
        aria-rowcount={hasMore ? -1 : events.length}
        aria-activedescendant={events[active] ? `row-${events[active].id}` : undefined}
        tabIndex={0}
        onKeyDown={onKeyDown}
        data-rows-loaded={events.length}
      >
        <div style={{ height: `${virtualizer.getTotalSize()}px`, position: 'relative' }}>
          {items.map((item) => {
            const e = events[item.index];
            return (
              <div
                key={e.id}
                id={`row-${e.id}`}
                role="row"
                aria-rowindex={item.index + 1}
                aria-selected={item.index === active}
                class={`grid-row ${columns}${item.index === active ? ' active' : ''}${e.status === 'failure' ? ' failed' : ''}`}
                style={{ transform: `translateY(${item.start}px)`, height: `${ROW_HEIGHT}px` }}
                onClick={() => {
                  setActive(item.index);
                  navigate(eventHref(e.id));
                }}
              >
                <span role="gridcell">
                  <a href={eventHref(e.id)} tabIndex={-1} onClick={(ev) => ev.preventDefault()}>
                    <time dateTime={e.occurredAt} title={formatTime(e.occurredAt)}>
                      <span class="date">{tableTime(e.occurredAt)[0]}</span>{' '}
                      <span class="clock">{tableTime(e.occurredAt)[1]}</span>
                    </time>
                  </a>
                </span>
                {showOrganization && (
                  <span role="gridcell" class="col-org ellipsis">
                    {e.organizationId ?? '—'}
                  </span>
                )}
                <span role="gridcell" class="ellipsis">
                  {e.actorId ?? e.actorType}
                </span>
                <span role="gridcell">{e.action}</span>
                <span role="gridcell" class="col-resource ellipsis">
                  {e.resourceType ? `${e.resourceType}${e.resourceId ? ` ${e.resourceId}` : ''}` : '—'}
                </span>
                <span role="gridcell">
                  <StatusBadge status={e.status} code={e.statusCode} />
                </span>
                <span role="gridcell" class="col-severity">
                  <SeverityBadge severity={e.severity} />
                </span>
              </div>
            );
          })}
        </div>
      </div>
      <p class="table-foot" aria-live="polite">
        {loading
          ? 'Loading…'
          : hasMore
            ? `${events.length.toLocaleString()} events loaded; scroll for more`
            : `${events.length.toLocaleString()} events`}
      </p>
    </div>
  );
}
