import { useEffect, useState } from 'preact/hooks';
import { API_BASE } from './api';

/** Client routes live under `<admin path>/ui`; the server answers every one of them with this page. */
export const UI_BASE = `${API_BASE}/ui`;

export interface Location {
  /** Below UI_BASE, with a leading slash ('/' for the search). */
  path: string;
  search: string;
}

export const currentLocation = (): Location => {
  const path = window.location.pathname.startsWith(UI_BASE)
    ? window.location.pathname.slice(UI_BASE.length)
    : '/';
  return { path: path || '/', search: window.location.search };
};

const NAVIGATED = 'audit:navigated';

export function navigate(to: string, replace = false): void {
  const url = to.startsWith(UI_BASE)
    ? to
    : `${UI_BASE}${to.startsWith('/') || to.startsWith('?') ? '' : '/'}${to}`;
  if (url === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  window.dispatchEvent(new Event(NAVIGATED));
}

export function useLocation(): Location {
  const [location, setLocation] = useState(currentLocation);
  useEffect(() => {
    const update = () => setLocation(currentLocation());
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATED, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATED, update);
    };
  }, []);
  return location;
}

/** `/events/:id` style matching; segments are URI-decoded. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

export const eventHref = (id: string) => `${UI_BASE}/events/${encodeURIComponent(id)}`;
export const resourceHref = (type: string, id: string) =>
  `${UI_BASE}/resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
export const requestHref = (id: string) => `${UI_BASE}/requests/${encodeURIComponent(id)}`;
export const transactionHref = (id: string) => `${UI_BASE}/transactions/${encodeURIComponent(id)}`;
export const actorHref = (id: string, organizationId?: string | null) =>
  `${UI_BASE}/actors/${encodeURIComponent(id)}${organizationId ? `?organizationId=${encodeURIComponent(organizationId)}` : ''}`;
