import { invalidArgument } from '../runtime/errors.js';

/** What a list page token remembers: the listing it belongs to and where it stopped. */
export interface PageTokenState {
  org: string;
  showDeleted: boolean;
  after: { name: string; uid: string };
}

export function encodePageToken(state: PageTokenState): string {
  return Buffer.from(JSON.stringify({ v: 1, o: state.org, d: state.showDeleted, n: state.after.name, u: state.after.uid })).toString('base64url');
}

/** Decodes a token and checks it belongs to this listing (AIP-158); INVALID_ARGUMENT otherwise. */
export function decodePageToken(token: string, expected: { org: string; showDeleted: boolean }): PageTokenState['after'] {
  const bad = (why: string) => invalidArgument('page_token', why);
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad('is not a token returned by ListSecrets');
  let parsed: { v?: unknown; o?: unknown; d?: unknown; n?: unknown; u?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    throw bad('is not a token returned by ListSecrets');
  }
  if (parsed?.v !== 1 || typeof parsed.o !== 'string' || typeof parsed.d !== 'boolean' || typeof parsed.n !== 'string' || typeof parsed.u !== 'string') {
    throw bad('is not a token returned by ListSecrets');
  }
  if (parsed.o !== expected.org || parsed.d !== expected.showDeleted) {
    throw bad('belongs to a different listing (org or show_deleted changed); start again without a page token');
  }
  return { name: parsed.n, uid: parsed.u };
}
