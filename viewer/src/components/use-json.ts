import { useEffect, useState } from 'preact/hooks';
import { errorText, getJson } from '../api';

/** One GET of the admin API, again whenever `key` changes; stale answers are dropped. */
export function useJson<T>(path: string | null, params: Record<string, string | undefined> = {}, key = '') {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    getJson<T>(path, params, controller.signal).then(
      (data) => setState({ data, error: null, loading: false }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ data: null, error: errorText(error), loading: false });
      },
    );
    return () => controller.abort();
  }, [path, key]);
  return state;
}
