// Small pieces every page shares: errors in place, times, the hash route.
import { useEffect, useState } from 'react';
import { ApiError } from './api';

/** A failed call in the server's words, with its field violations, where the action was. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const violations = error instanceof ApiError ? error.fieldViolations : [];
  return (
    <div className="error" role="alert">
      <strong>{error instanceof ApiError ? titleOf(error) : 'Something went wrong'}:</strong> {violations.length > 0 ? 'please correct the fields below.' : message}
      {violations.length > 0 && (
        <ul>
          {violations.map((v) => (
            <li key={v.field + v.description}>
              <code>{v.field}</code> {v.description}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function titleOf(error: ApiError): string {
  switch (error.status) {
    case 'PERMISSION_DENIED':
      return 'Not allowed';
    case 'UNAUTHENTICATED':
      return 'Not logged in';
    case 'INVALID_ARGUMENT':
      return 'Invalid input';
    case 'NOT_FOUND':
      return 'Not found';
    case 'ALREADY_EXISTS':
      return 'Already exists';
    default:
      return 'Failed';
  }
}

/** The description of a violation of `field` (e.g. "secret.name"), to show next to its input. */
export function FieldError({ error, field }: { error: unknown; field: string }) {
  if (!(error instanceof ApiError)) return null;
  const match = error.fieldViolations.find((v) => v.field === field || v.field.startsWith(`${field}.`) || v.field.startsWith(`${field}[`));
  return match ? <span className="field-error">{match.description}</span> : null;
}

/** A form's submit button (disabled while busy) and its Cancel. */
export function FormButtons({ label, busy, onCancel, danger = false }: { label: string; busy: boolean; onCancel: () => void; danger?: boolean }) {
  return (
    <div className="buttons">
      <button type="submit" className={danger ? 'danger' : undefined} disabled={busy}>
        {label}
      </button>
      <button type="button" className="secondary" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

export function formatTime(time: string | undefined): string {
  return time ? new Date(time).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '';
}

/** The part of the URL after #, e.g. "/jobs/j_123"; the app's only router. */
export function useRoute(): string {
  const read = () => window.location.hash.replace(/^#/, '') || '/secrets';
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function navigate(route: string): void {
  window.location.hash = route;
}
