import { invalidArgument } from './errors.js';

type Scalar = string | number | boolean;

/**
 * Opaque list page tokens (AIP-158): they remember the listing they belong to (its filter
 * parameters) and the keyset position where the page stopped. Not secret, but checked: a
 * token is only valid for the same listing.
 */
export function encodePageToken(listing: Record<string, Scalar>, position: Record<string, Scalar>): string {
  return Buffer.from(JSON.stringify({ v: 1, l: listing, p: position })).toString('base64url');
}

export function decodePageToken<P extends Record<string, Scalar>>(
  token: string,
  listing: Record<string, Scalar>,
  isPosition: (p: Record<string, unknown>) => boolean,
  method: string,
): P {
  const bad = (why: string) => invalidArgument('page_token', why);
  const notOurs = `is not a token returned by ${method}`;
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad(notOurs);
  let parsed: { v?: unknown; l?: unknown; p?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    throw bad(notOurs);
  }
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObject(parsed) || parsed.v !== 1 || !isObject(parsed.l) || !isObject(parsed.p) || !isPosition(parsed.p)) throw bad(notOurs);
  const given = parsed.l;
  const same = Object.keys(listing).length === Object.keys(given).length && Object.entries(listing).every(([k, v]) => given[k] === v);
  if (!same) throw bad('belongs to a different listing (its filters changed); start again without a page token');
  return parsed.p as P;
}
