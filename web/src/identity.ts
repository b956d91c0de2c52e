// Who is logged in, as the server says after verifying the token (SecretService.WhoAmI):
// the only source of the name, org and role the console shows, and of which actions it offers.
import { ApiError, secretsApi } from './api';
import { logOut, storeToken } from './session';

export interface Identity {
  subject: string;
  org: string;
  role: string;
  canReadSecrets: boolean;
  canManageSecrets: boolean;
  /** When the server stops accepting the token (ms since the epoch); undefined when not known. */
  expiresAt?: number;
}

/** Why a token cannot use the console, in words; undefined when it can. */
function refusal(identity: Identity): string | undefined {
  if (identity.role === 'service') return 'That is a service token: the console is for people. Use an admin or member token.';
  if (!identity.canReadSecrets) return `That token's role (${identity.role}) has no access to an org's secrets: use an admin or member token.`;
  return undefined;
}

/** The server (or the console) refused the token itself, rather than failing to answer. */
export const tokenRefused = (err: unknown) => err instanceof ApiError && (err.status === 'UNAUTHENTICATED' || err.status === 'PERMISSION_DENIED');

/** Asks the server who the stored token (or `token`, stored first) belongs to. */
export async function identify(token?: string): Promise<Identity> {
  if (token !== undefined) storeToken(token);
  try {
    const me = await secretsApi.whoAmI({});
    const identity: Identity = {
      subject: me.subject ?? '',
      org: me.org ?? '',
      role: me.role ?? '',
      canReadSecrets: me.canReadSecrets ?? false,
      canManageSecrets: me.canManageSecrets ?? false,
      expiresAt: me.expireTime ? Date.parse(me.expireTime) : undefined,
    };
    const refused = refusal(identity);
    if (refused) throw new ApiError(refused, 'PERMISSION_DENIED', 403, undefined, []);
    return identity;
  } catch (err) {
    // A refused token goes; one the server could not check (unreachable) stays for a retry.
    if (tokenRefused(err)) logOut();
    throw err;
  }
}
