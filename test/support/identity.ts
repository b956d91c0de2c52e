import sodium from 'libsodium-wrappers';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken, type Role } from '../../services/runtime/auth.js';

/**
 * Tokens from the embedded issuer in a server's data dir (for servers run as child
 * processes): users of `org`, or svc:job-launcher for the service role.
 */
export async function issuerTokens(dataDir: string, org: string, subjectPrefix = 'test'): Promise<(role: Role, subject?: string) => Promise<string>> {
  const issuer = await loadIssuerKeys(dataDir, false);
  return (role, subject) =>
    mintToken(issuer.privateKey, {
      role,
      org: role === 'service' ? '' : org,
      subject: subject ?? (role === 'service' ? 'svc:job-launcher' : `${subjectPrefix}-${role}`),
      ttlSeconds: 3600,
      settings: EMBEDDED_TOKEN_SETTINGS,
    });
}

/**
 * A value sealed as any client must seal it: libsodium's own crypto_box_seal, independent of
 * the project's sealBox, so the server is tested against the standard construction.
 */
export function sealUnder(key: { publicKey: Uint8Array; keyId: string }, value: string | Uint8Array): { sealedBox: Buffer; keyId: string } {
  return { sealedBox: Buffer.from(sodium.crypto_box_seal(typeof value === 'string' ? Buffer.from(value) : value, key.publicKey)), keyId: key.keyId };
}
