import { useState, type FormEvent } from 'react';
import type { Claims } from '../session';

export function LoginPage({ onLogin, logIn }: { onLogin: (claims: Claims) => void; logIn: (token: string) => Claims | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const claims = logIn(token);
    if (claims) onLogin(claims);
    else setError('That is not a vessl-secrets token: paste a whole token (three parts separated by dots).');
  };
  return (
    <div className="login">
      <h1>vessl-secrets console</h1>
      <p>
        Paste an access token: <code>make up</code> writes an admin and a member token to <code>.vessl/credentials.json</code>, and{' '}
        <code>vessl-secrets token mint</code> makes more. It is kept in this tab only.
      </p>
      <form onSubmit={submit}>
        <label>
          Access token
          <textarea name="token" rows={4} value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" spellCheck={false} />
        </label>
        {error && (
          <div className="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit">Log in</button>
      </form>
    </div>
  );
}
