import { useEffect, useRef, useState } from 'react';
import { ApiError, onUnauthenticated } from './api';
import { identify, tokenRefused, type Identity } from './identity';
import { JobCreatePage } from './pages/JobCreatePage';
import { JobDetailPage } from './pages/JobDetailPage';
import { JobsPage } from './pages/JobsPage';
import { LoginPage } from './pages/LoginPage';
import { SecretsPage } from './pages/SecretsPage';
import { WorkspaceCreatePage } from './pages/WorkspaceCreatePage';
import { WorkspaceDetailPage } from './pages/WorkspaceDetailPage';
import { NEW_WORKSPACE_ROUTE, WorkspacesPage } from './pages/WorkspacesPage';
import { currentToken, logOut } from './session';
import { plainError, useRoute } from './ui';

/** A token handed over in the URL fragment (#token=...) is taken once and removed from the URL. */
function takeTokenFromFragment(): string | undefined {
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (!match) return undefined;
  history.replaceState(null, '', `${window.location.pathname}#/secrets`);
  return decodeURIComponent(match[1]).trim();
}

/** Where the session stands: being checked with the server, logged in (as the server says), or out. */
type Session = { kind: 'checking' } | { kind: 'in'; identity: Identity } | { kind: 'out'; notice?: string; retry?: boolean };

const SESSION_EXPIRED = 'Session expired: log in again to continue where you were.';
const MAX_TIMER_MS = 2 ** 31 - 1;

export function App() {
  const [session, setSession] = useState<Session>(() => (currentToken() || window.location.hash.startsWith('#token=') ? { kind: 'checking' } : { kind: 'out' }));
  const route = useRoute();

  // A stored token (a reload) or one handed over in the URL is checked with the server first.
  const checking = session.kind === 'checking';
  useEffect(() => {
    if (!checking) return;
    identify(takeTokenFromFragment()).then(
      (identity) => setSession({ kind: 'in', identity }),
      (err: unknown) =>
        setSession({ kind: 'out', notice: err instanceof ApiError && err.status === 'UNAUTHENTICATED' ? SESSION_EXPIRED : plainError(err), retry: !tokenRefused(err) && currentToken() !== undefined }),
    );
  }, [checking]);

  // Any call the server refuses as UNAUTHENTICATED (expired, revoked, forged) ends the session;
  // the route stays in the URL, so logging in again returns to it.
  useEffect(
    () =>
      onUnauthenticated(() => {
        logOut();
        setSession((s) => (s.kind === 'in' ? { kind: 'out', notice: SESSION_EXPIRED } : s));
      }),
    [],
  );

  // The session ends when the server says the token does, even on a page that makes no calls.
  const expiresAt = session.kind === 'in' ? session.identity.expiresAt : undefined;
  useEffect(() => {
    if (expiresAt === undefined) return;
    const remaining = expiresAt - Date.now();
    // Beyond setTimeout's range (about 24.8 days), the next refused call ends the session instead.
    if (remaining > MAX_TIMER_MS) return;
    const timer = setTimeout(() => {
      logOut();
      setSession({ kind: 'out', notice: SESSION_EXPIRED });
    }, Math.max(0, remaining));
    return () => clearTimeout(timer);
  }, [expiresAt]);

  if (session.kind === 'checking') {
    return (
      <p className="checking" role="status">
        Checking your session…
      </p>
    );
  }
  if (session.kind === 'out') {
    return <LoginPage notice={session.notice} onRetry={session.retry ? () => setSession({ kind: 'checking' }) : undefined} onLogin={(identity) => setSession({ kind: 'in', identity })} />;
  }
  return <Console identity={session.identity} route={route} onLogOut={() => (logOut(), setSession({ kind: 'out' }))} />;
}

function Console({ identity, route, onLogOut }: { identity: Identity; route: string; onLogOut: () => void }) {
  const [menuOpen, setMenuOpen] = useState(false);
  const main = useRef<HTMLElement>(null);
  // After login and on every route change, focus goes to the page's heading (not the body),
  // and the phone menu closes.
  useEffect(() => {
    setMenuOpen(false);
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);
  const link = (to: string, label: string) => {
    const active = route === to || route.startsWith(`${to}/`);
    return (
      <a href={`#${to}`} className={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
        {label}
      </a>
    );
  };
  return (
    <div className="layout">
      <a className="skip-link" href="#main" onClick={(e) => (e.preventDefault(), main.current?.querySelector<HTMLElement>('h1')?.focus())}>
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">vessl-secrets</span>
        <button type="button" className="menu-button secondary" aria-expanded={menuOpen} aria-controls="site-nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
      </header>
      <nav id="site-nav" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Main">
        <div className="brand">vessl-secrets</div>
        <div className="nav-group">Organization</div>
        {link('/secrets', 'Secrets')}
        <div className="nav-group">Workloads</div>
        {link('/jobs', 'Jobs')}
        {link('/workspaces', 'Workspaces')}
        <div className="who" data-testid="who">
          <div>
            {identity.subject} <span className="role">{identity.role}</span>
          </div>
          <div>org {identity.org}</div>
          <button type="button" className="link" onClick={onLogOut}>
            Log out
          </button>
        </div>
      </nav>
      <main id="main" ref={main}>
        {page(route, identity)}
      </main>
    </div>
  );
}

function page(route: string, identity: Identity) {
  if (route === '/jobs') return <JobsPage identity={identity} />;
  if (route === '/jobs/new') return <JobCreatePage identity={identity} />;
  const job = /^\/jobs\/([^/]+)$/.exec(route);
  if (job) return <JobDetailPage identity={identity} id={decodeURIComponent(job[1])} />;
  if (route === '/workspaces') return <WorkspacesPage identity={identity} />;
  if (route === NEW_WORKSPACE_ROUTE) return <WorkspaceCreatePage identity={identity} />;
  const workspace = /^\/workspaces\/([^/]+)$/.exec(route);
  if (workspace) return <WorkspaceDetailPage key={workspace[1]} identity={identity} name={decodeURIComponent(workspace[1])} />;
  return <SecretsPage identity={identity} />;
}
