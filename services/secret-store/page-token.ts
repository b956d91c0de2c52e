import { decodePageToken as decode, encodePageToken as encode } from '../runtime/page-token.js';

/** What a ListSecrets page token remembers: the listing it belongs to and where it stopped. */
export interface PageTokenState {
  org: string;
  showDeleted: boolean;
  after: { name: string; uid: string };
}

export function encodePageToken(state: PageTokenState): string {
  return encode({ org: state.org, showDeleted: state.showDeleted }, state.after);
}

/** Decodes a token and checks it belongs to this listing (AIP-158); INVALID_ARGUMENT otherwise. */
export function decodePageToken(token: string, expected: { org: string; showDeleted: boolean }): PageTokenState['after'] {
  return decode<PageTokenState['after']>(
    token,
    { org: expected.org, showDeleted: expected.showDeleted },
    (p) => typeof p.name === 'string' && typeof p.uid === 'string',
    'ListSecrets',
  );
}
