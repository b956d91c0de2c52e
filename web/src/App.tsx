import { useState } from 'react';
import { claimsOf, currentToken, logIn, logOut, type Claims } from './session';
import { JobCreatePage } from './pages/JobCreatePage';
import { JobDetailPage } from './pages/JobDetailPage';
import { JobsPage } from './pages/JobsPage';
import { LoginPage } from './pages/LoginPage';
import { SecretsPage } from './pages/SecretsPage';
import { useRoute } from './ui';

/** A token handed over in the URL fragment (#token=...) is taken once and removed from the URL. */
function takeTokenFromFragment(): void {
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  logIn(decodeURIComponent(match[1]));
  history.replaceState(null, '', `${window.location.pathname}#/secrets`);
}

export function App() {
  const [claims, setClaims] = useState<Claims | undefined>(() => {
    takeTokenFromFragment();
    const token = currentToken();
    return token ? claimsOf(token) : undefined;
  });
  const route = useRoute();
  if (!claims) return <LoginPage onLogin={setClaims} logIn={logIn} />;
  const link = (to: string, label: string) => (
    <a href={`#${to}`} className={route === to || route.startsWith(`${to}/`) ? 'active' : ''}>
      {label}
    </a>
  );
  return (
    <div className="layout">
      <nav className="sidebar">
        <div className="brand">vessl-secrets</div>
        <div className="nav-group">Organization</div>
        {link('/secrets', 'Secrets')}
        <div className="nav-group">Workloads</div>
        {link('/jobs', 'Jobs')}
        <div className="who">
          <div>
            {claims.sub} <span className="role">{claims.role}</span>
          </div>
          <div>org {claims.org}</div>
          <button
            type="button"
            className="link"
            onClick={() => {
              logOut();
              setClaims(undefined);
            }}
          >
            Log out
          </button>
        </div>
      </nav>
      <main>{page(route, claims)}</main>
    </div>
  );
}

function page(route: string, claims: Claims) {
  if (route === '/jobs') return <JobsPage claims={claims} />;
  if (route === '/jobs/new') return <JobCreatePage claims={claims} />;
  const job = /^\/jobs\/([^/]+)$/.exec(route);
  if (job) return <JobDetailPage claims={claims} id={decodeURIComponent(job[1])} />;
  return <SecretsPage claims={claims} />;
}
