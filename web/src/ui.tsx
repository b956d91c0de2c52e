// Small pieces every page shares: errors in plain words, times, titles, the hash route.
import { useEffect, useState, type ReactNode } from 'react';
import { ApiError } from './api';

/** What went wrong with a call, in a sentence a person can act on. */
export function plainError(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  const message = error.message.replace(/^./, (c) => c.toUpperCase());
  switch (error.status) {
    case 'PERMISSION_DENIED':
      return `You are not allowed to do this. ${message}.`;
    case 'NOT_FOUND':
      return /not found/i.test(error.message) ? `${message}.` : `Not found: ${error.message}.`;
    case 'ALREADY_EXISTS':
      return `${message}.`;
    case 'FAILED_PRECONDITION':
      return `This cannot be done now: ${error.message}.`;
    case 'UNAVAILABLE':
      return `The server cannot be reached right now (${error.message}). Try again in a moment.`;
    case 'UNAUTHENTICATED':
      return 'Your session has expired. Log in again.';
    case 'INTERNAL':
    case 'UNKNOWN':
      return 'The server failed to do this. Try again; if it keeps failing, the server log has the details.';
    default:
      return `${message}.`;
  }
}

/** A failed load, where the content would have been. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {plainError(error)}
    </div>
  );
}

const EXACT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['week', 7 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

export function exactTime(time: string | undefined): string {
  return time ? EXACT.format(new Date(time)) : '';
}

/** One clock for every relative time on the page: it ticks while anything shows one. */
const clockListeners = new Set<() => void>();
let clockTimer: ReturnType<typeof setInterval> | undefined;
const CLOCK_MS = 15_000;

function useNow(): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const tick = () => setNow(Date.now());
    clockListeners.add(tick);
    clockTimer ??= setInterval(() => clockListeners.forEach((listener) => listener()), CLOCK_MS);
    return () => {
      clockListeners.delete(tick);
      if (clockListeners.size === 0) {
        clearInterval(clockTimer);
        clockTimer = undefined;
      }
    };
  }, []);
  return now;
}

/** "3 minutes ago", kept current, with the exact time on hover. */
export function RelativeTime({ time }: { time: string | undefined }) {
  const now = useNow();
  if (!time) return null;
  const seconds = (new Date(time).getTime() - now) / 1000;
  const [unit, size] = UNITS.find(([, s]) => Math.abs(seconds) >= s) ?? ['second', 1];
  const exact = exactTime(time);
  return (
    <time dateTime={time} title={exact}>
      {Math.abs(seconds) < 10 ? 'just now' : RELATIVE.format(Math.round(seconds / size), unit)}
    </time>
  );
}

/** The tab's title for a route: what the page is, then the product. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · vessl-secrets`;
  }, [title]);
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

/** An enum state as a word: STATE_RUNNING → "running". */
export function stateLabel(state: string | undefined): string {
  return (state ?? 'STATE_UNSPECIFIED').replace(/^STATE_/, '').toLowerCase();
}

/** A resource's state as a coloured word (style.css: .state-running, .state-failed, ...). */
export function StateBadge({ state }: { state: string | undefined }) {
  const label = stateLabel(state);
  return <span className={`state state-${label}`}>{label}</span>;
}

/** A list table's cell: on a phone the row becomes a card, each cell labelled (style.css). */
export function Cell({ label, className, children }: { label: string; className?: string; children?: ReactNode }) {
  return (
    <td data-label={label} className={className}>
      <span className="cell">{children}</span>
    </td>
  );
}

/** A list table's one row when it has nothing to show. */
export function EmptyRow({ columns, children }: { columns: number; children: ReactNode }) {
  return (
    <tr>
      <td colSpan={columns} className="empty">
        {children}
      </td>
    </tr>
  );
}

/** The button under a list that loads its next page (with what else the list says there). */
export function LoadMore({ noun, onClick, children }: { noun: string; onClick: () => void; children?: ReactNode }) {
  return (
    <div className="load-more">
      <button type="button" className="secondary" onClick={onClick}>
        {`Load more ${noun}`}
      </button>
      {children}
    </div>
  );
}
