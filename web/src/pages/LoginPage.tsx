import { useState } from 'react';
import { ApiError } from '../api';
import { ErrorSummary, Field, formErrorsOf, NO_ERRORS, useCheckedSubmit, type FormErrors, type FormField } from '../forms';
import { identify, type Identity } from '../identity';
import { usePageTitle } from '../ui';

const TOKEN_FIELD: FormField[] = [{ path: 'token', id: 'token', label: 'Access token' }];

/** A refused token, at the token field: the server's reason in words. */
function tokenErrors(err: unknown): FormErrors {
  if (err instanceof ApiError && (err.status === 'UNAUTHENTICATED' || err.status === 'PERMISSION_DENIED')) {
    return { fields: { token: `was not accepted: ${err.message.replace(/\.$/, '')}.` } };
  }
  return formErrorsOf(err, TOKEN_FIELD);
}

/** `onRetry`: the server could not check the stored token; it is kept, and this checks it again. */
export function LoginPage({ notice, onLogin, onRetry }: { notice?: string; onLogin: (identity: Identity) => void; onRetry?: () => void }) {
  usePageTitle('Log in');
  const [token, setToken] = useState('');
  // Only the empty field is checked in the browser; the server judges the token itself.
  const check = (): FormErrors => (token.trim() === '' ? { fields: { token: 'is required: paste the whole token' } } : NO_ERRORS);
  const { errors, failures, busy, submit } = useCheckedSubmit(check, [token], () => identify(token.trim()), onLogin, tokenErrors);
  return (
    <main className="login">
      <h1>vessl-secrets console</h1>
      {notice && (
        <div className="warning" role="status" data-testid="session-notice">
          {notice}
          {onRetry && (
            <>
              {' '}
              <button type="button" onClick={onRetry}>
                Retry
              </button>
            </>
          )}
        </div>
      )}
      <p>
        Paste an access token: <code>make up</code> writes an admin and a member token to <code>.vessl/credentials.json</code>, and{' '}
        <code>vessl-secrets token mint</code> makes more. It is kept in this tab only.
      </p>
      <form onSubmit={submit} aria-label="Log in" noValidate>
        <ErrorSummary errors={errors} fields={TOKEN_FIELD} failures={failures} />
        <Field id="token" label="Access token" error={errors.fields.token}>
          {/* The one thing to do here: focus starts in the field (also after "Session expired"). */}
          {(aria) => <textarea {...aria} autoFocus name="token" rows={4} value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" spellCheck={false} />}
        </Field>
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
