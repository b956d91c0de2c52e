import type { Principal, Role } from '../runtime/auth.js';

/** Who may read an org's secret metadata (list, get) and who may change its secrets (DESIGN §3). */
export const SECRET_READERS: readonly Role[] = ['admin', 'member'];
export const SECRET_MANAGERS: readonly Role[] = ['admin'];

/** What a verified caller may do with its own org's secrets: the same lists the handlers enforce. */
export function secretRightsOf(principal: Principal): { canReadSecrets: boolean; canManageSecrets: boolean } {
  const user = principal.role !== 'service' && principal.org !== '';
  return { canReadSecrets: user && SECRET_READERS.includes(principal.role), canManageSecrets: user && SECRET_MANAGERS.includes(principal.role) };
}
