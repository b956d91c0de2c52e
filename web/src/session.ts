// The user's token lives in this tab's sessionStorage only (gone when the tab closes). It is
// the same bearer token vesslctl uses; the console never stores anything else, least of all
// a secret value. Who the token belongs to is asked of the server (identity.ts), never read
// from the token itself: its claims are unverified until the server has checked them.
const TOKEN_KEY = 'vessl.token';

export function currentToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function logOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
