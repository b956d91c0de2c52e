// The user's token lives in this tab's sessionStorage only (gone when the tab closes). It is
// the same bearer token vesslctl uses; the console never stores anything else, least of all
// a secret value.
const TOKEN_KEY = 'vessl.token';

export interface Claims {
  sub: string;
  org: string;
  role: string;
  exp?: number;
}

export function currentToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** The token's claims, read without verifying it: only to label the UI; the server checks every call. */
export function claimsOf(token: string): Claims | undefined {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(payload)) as Partial<Claims>;
    if (typeof claims.sub !== 'string' || typeof claims.org !== 'string' || typeof claims.role !== 'string') return undefined;
    if (claims.role === 'service') return undefined; // the console is for people; the bridge refuses service tokens too
    return { sub: claims.sub, org: claims.org, role: claims.role, exp: claims.exp };
  } catch {
    return undefined;
  }
}

export function logIn(token: string): Claims | undefined {
  const claims = claimsOf(token.trim());
  if (claims) sessionStorage.setItem(TOKEN_KEY, token.trim());
  return claims;
}

export function logOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
