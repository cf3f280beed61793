import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Identity, UNAUTHORIZED, errorText, getJson, session } from './api';
import { Message } from './components/badges';
import { Link } from './components/link';
import { ActorPage } from './pages/actor-page';
import { Suspense, lazy } from 'preact/compat';
import { EventPage } from './pages/event-page';
import { IntegrityPage } from './pages/integrity-page';
import { ResourcePage } from './pages/resource-page';
import { GroupPage } from './pages/group-page';
import { SearchPage, prefetchSearch } from './pages/search-page';
import { UI_BASE, currentLocation, match, useLocation } from './router';
import './styles.css';

// The charts (Chart.js, most of the script's weight) load only with the dashboard.
const DashboardPage = lazy(() => import('./pages/dashboard-page').then((m) => m.DashboardPage));

type Theme = 'system' | 'light' | 'dark';
const THEME_KEY = 'audit-viewer-theme';

function resolvedTheme(theme: Theme): 'light' | 'dark' {
  if (theme !== 'system') return theme;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function App() {
  const [me, setMe] = useState<Identity | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  // Why the sign-in form shows: no identity yet, or the token in this tab was refused.
  const [signIn, setSignIn] = useState<'needed' | 'refused' | null>(null);
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(THEME_KEY) as Theme) || 'system');
  const shown = resolvedTheme(theme);

  useEffect(() => {
    document.documentElement.dataset.theme = shown;
    localStorage.setItem(THEME_KEY, theme);
  }, [theme, shown]);

  const identify = () =>
    getJson<Identity>('me').then(
      (identity) => {
        setMe(identity);
        setSignIn(null);
        setProblem(null);
      },
      (error: unknown) => {
        setMe(null);
        if (error instanceof ApiError && error.status === 401)
          setSignIn(session.token() ? 'refused' : 'needed');
        else setProblem(errorText(error));
      },
    );

  useEffect(() => {
    void identify();
    const onUnauthorized = () => {
      setMe(null);
      setSignIn(session.token() ? 'refused' : 'needed');
    };
    window.addEventListener(UNAUTHORIZED, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED, onUnauthorized);
  }, []);

  const signOut = () => {
    session.clear();
    setMe(null);
    setSignIn('needed');
  };

  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <Link href={`${UI_BASE}/`} class="brand">
          Audit trail
        </Link>
        {me && (
          <nav aria-label="Main">
            <Link href={`${UI_BASE}/`}>Search</Link>
            <Link href={`${UI_BASE}/dashboard`}>Dashboard</Link>
            <Link href={`${UI_BASE}/integrity`}>Integrity</Link>
          </nav>
        )}
        <div class="who">
          <label class="theme">
            <span class="visually-hidden">Theme</span>
            <select
              aria-label="Theme"
              value={theme}
              onChange={(e) => setTheme((e.target as HTMLSelectElement).value as Theme)}
            >
              <option value="system">System theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          {me && (
            <>
              <span class="identity" title={me.roles.join(', ')}>
                {me.sub}
                {me.org ? ` · ${me.org}` : ''}
              </span>
              <button type="button" onClick={signOut}>
                Sign out
              </button>
            </>
          )}
        </div>
      </header>
      <main id="content" tabIndex={-1}>
        {problem && <Message kind="error">{problem}</Message>}
        {signIn && <SignIn refused={signIn === 'refused'} onSignedIn={identify} />}
        {me && <Routes me={me} theme={shown} />}
      </main>
    </>
  );
}

function SignIn({ refused, onSignedIn }: { refused: boolean; onSignedIn: () => Promise<void> }) {
  const [token, setToken] = useState('');
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = (event: Event) => {
    event.preventDefault();
    session.set(token);
    void onSignedIn();
  };
  return (
    <form class="card sign-in" onSubmit={submit} aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      {refused && (
        <Message kind="error">The token was refused (expired or invalid). Paste a new one.</Message>
      )}
      <label class="field">
        <span>Access token</span>
        <textarea
          ref={input}
          name="token"
          rows={4}
          required
          autoComplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <p class="hint">The token is kept in this tab only (session storage) and sent to the audit API.</p>
      <button type="submit" class="primary">
        Sign in
      </button>
    </form>
  );
}

const TITLES: Array<[string, string]> = [
  ['/events/:id', 'Event'],
  ['/resources/:type/:id', 'Resource history'],
  ['/actors/:id', 'Actor activity'],
  ['/requests/:id', 'Request'],
  ['/transactions/:id', 'Transaction'],
  ['/dashboard', 'Dashboard'],
  ['/integrity', 'Integrity'],
];

function Routes({ me, theme }: { me: Identity; theme: string }) {
  const { path, search } = useLocation();
  const first = useRef(true);
  useEffect(() => {
    const title = TITLES.find(([pattern]) => match(pattern, path))?.[1] ?? 'Search';
    document.title = `${title} · Audit trail`;
    // Keyboard and screen-reader users land on the new page's content, not at the top of the old one.
    if (!first.current) document.getElementById('content')?.focus();
    first.current = false;
  }, [path, search]);

  let params: Record<string, string> | null;
  if ((params = match('/events/:id', path))) return <EventPage id={params.id} me={me} />;
  if ((params = match('/resources/:type/:id', path)))
    return <ResourcePage type={params.type} id={params.id} />;
  if ((params = match('/requests/:id', path))) return <GroupPage kind="request" id={params.id} me={me} />;
  if ((params = match('/transactions/:id', path)))
    return <GroupPage kind="transaction" id={params.id} me={me} />;
  if ((params = match('/actors/:id', path))) return <ActorPage id={params.id} search={search} me={me} />;
  if (match('/dashboard', path))
    return (
      <Suspense fallback={<p aria-busy="true">Loading the dashboard…</p>}>
        <DashboardPage me={me} theme={theme} />
      </Suspense>
    );
  if (match('/integrity', path)) return <IntegrityPage me={me} />;
  if (match('/', path) || path === '') return <SearchPage search={search} me={me} />;
  return <Message kind="error">No such page.</Message>;
}

const opening = currentLocation();
if (opening.path === '/') prefetchSearch(opening.search);
render(<App />, document.getElementById('app')!);
