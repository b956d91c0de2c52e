import { readFile, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { DEFAULT_MAX_TOKEN_LIFETIMES, mintToken, type IssuerKeys, type Role, type TokenSettings } from '../runtime/auth.js';

/** $VESSL_DATA_DIR/credentials.json: what a developer needs to use a fresh embedded server. */
export interface Credentials {
  endpoint: string;
  org: string;
  tokens: Record<'admin' | 'member' | 'operator', string>;
}

const CREDENTIAL_ROLES: Role[] = ['admin', 'member', 'operator'];
export const DEV_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const RENEW_BEFORE_SECONDS = 24 * 3600;

export const credentialsFile = (dataDir: string) => path.join(dataDir, 'credentials.json');

async function readCredentials(file: string): Promise<Credentials | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  } catch {
    return undefined;
  }
}

function stillGood(existing: Credentials, endpoint: string, org: string): boolean {
  if (existing.endpoint !== endpoint || existing.org !== org) return false;
  const renewAfter = Date.now() / 1000 + RENEW_BEFORE_SECONDS;
  return CREDENTIAL_ROLES.every((role) => {
    const token = existing.tokens?.[role as keyof Credentials['tokens']];
    try {
      return typeof token === 'string' && (decodeJwt(token).exp ?? 0) > renewAfter;
    } catch {
      return false;
    }
  });
}

/**
 * Writes credentials.json (0600) on a first start, and again when the endpoint changed or
 * the tokens are about to expire. Returns the credentials in force.
 */
export async function ensureCredentials(
  dataDir: string,
  endpoint: string,
  org: string,
  keys: IssuerKeys,
  settings: TokenSettings,
): Promise<{ credentials: Credentials; written: boolean }> {
  const file = credentialsFile(dataDir);
  const existing = await readCredentials(file);
  if (existing && stillGood(existing, endpoint, org)) return { credentials: existing, written: false };
  const tokens = {} as Credentials['tokens'];
  // Never longer than the server accepts (a shorter VESSL_MAX_TOKEN_LIFETIME shortens them).
  const ttlSeconds = Math.min(DEV_TOKEN_TTL_SECONDS, (settings.maxLifetime ?? DEFAULT_MAX_TOKEN_LIFETIMES).user);
  for (const role of CREDENTIAL_ROLES) {
    tokens[role as keyof Credentials['tokens']] = await mintToken(keys.privateKey, {
      subject: `dev-${role}`,
      org,
      role,
      ttlSeconds,
      settings,
    });
  }
  const credentials: Credentials = { endpoint, org, tokens };
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
  return { credentials, written: true };
}
