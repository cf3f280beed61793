import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type AuditEvent, type EventPage, errorText, getJson } from '../api';

export const PAGE_SIZE = 100;

/**
 * Keyset paging of an event listing (`/events`, `/actors/:id/activity`, `/resources/.../history`): the
 * first page on mount and whenever `key` changes, the next with the previous page's cursor, never OFFSET.
 */
export function usePages(path: string, params: Record<string, string>, key: string) {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);

  const load = useCallback(
    async (after: string | null, mine: number) => {
      setLoading(true);
      try {
        const page = await getJson<EventPage>(path, {
          ...params,
          limit: PAGE_SIZE,
          cursor: after ?? undefined,
        });
        if (generation.current !== mine) return;
        setEvents((previous) => (after ? [...previous, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setError(null);
        if (!after) performance.mark('audit:first-page');
      } catch (caught) {
        if (generation.current === mine) setError(errorText(caught));
      } finally {
        if (generation.current === mine) setLoading(false);
      }
    },
    [path, key],
  );

  useEffect(() => {
    const mine = ++generation.current;
    setEvents([]);
    setCursor(null);
    void load(null, mine);
  }, [load]);

  const loadMore = useCallback(() => {
    if (cursor && !loading) void load(cursor, generation.current);
  }, [cursor, loading, load]);

  return { events, hasMore: cursor !== null, loading, error, loadMore };
}
