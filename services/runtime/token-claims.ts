/** The claims vesslctl and the web console bridge read from an access token (DESIGN §3). */
export interface TokenClaims {
  sub?: string;
  org?: string;
  role?: string;
  /** Expiry, seconds since the epoch. */
  exp?: number;
}

/**
 * Reads a JWT's payload WITHOUT verifying it: only for display and defaults (the org).
 * The server verifies every token on every call. Undefined when it is not a JWT.
 */
export function decodeTokenClaims(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return undefined;
    const { sub, org, role, exp } = payload as Record<string, unknown>;
    return {
      sub: typeof sub === 'string' ? sub : undefined,
      org: typeof org === 'string' && org !== '' ? org : undefined,
      role: typeof role === 'string' ? role : undefined,
      exp: typeof exp === 'number' ? exp : undefined,
    };
  } catch {
    return undefined;
  }
}

/** Enough of a token to recognise it, never enough to use it. */
export const maskToken = (token: string) => (token.length <= 8 ? '…' : `${token.slice(0, 8)}…`);
