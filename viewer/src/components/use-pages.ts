import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type AuditEvent, type EventPage, errorText, getJson } from '../api';

export const PAGE_SIZE = 100;

/** A first page asked for while the page was still finding out who the reader is (see prefetchFirstPage). */
let prefetched: { path: string; key: string; page: Promise<EventPage> } | null = null;

/**
 * Starts the first page's request at once, in parallel with the identity check, instead of after it: the
 * listing that mounts next with the same path and key takes it (once); a failed one is simply asked again.
 */
export function prefetchFirstPage(path: string, params: Record<string, string>, key: string): void {
  const page = getJson<EventPage>(path, { ...params, limit: PAGE_SIZE }, undefined, { quiet: true });
  page.catch(() => undefined);
  prefetched = { path, key, page };
}

function takePrefetched(path: string, key: string): Promise<EventPage> | null {
  const hit = prefetched && prefetched.path === path && prefetched.key === key ? prefetched.page : null;
  prefetched = null;
  return hit;
}

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
        const ask = () =>
          getJson<EventPage>(path, { ...params, limit: PAGE_SIZE, cursor: after ?? undefined });
        const early = after ? null : takePrefetched(path, key);
        const page = early ? await early.catch(ask) : await ask();
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
