import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTVerifyGetKey,
  type CryptoKey,
} from 'jose';
import { permissionDenied, unauthenticated, unavailable } from './errors.js';
import { createFileExclusive } from './files.js';

export const ROLES = ['admin', 'member', 'operator', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, as proven by a verified token. */
export interface Principal {
  subject: string;
  /** The org the token is scoped to; empty for service tokens, which act across orgs. */
  org: string;
  role: Role;
  /** When the verified token expires (its exp, seconds since the epoch); unset where none was verified. */
  expiresAt?: number;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  /** The longest life a token may have, by kind; DEFAULT_MAX_TOKEN_LIFETIMES when unset. */
  maxLifetime?: TokenLifetimes;
}

/** Seconds: the longest a user's (admin, member, operator) or a service's token may live. */
export interface TokenLifetimes {
  user: number;
  service: number;
}

/**
 * A leaked token is good until its exp: the server caps how far away exp may be, whatever
 * the issuer signed (DESIGN §3). 30 days for users (the embedded default mints exactly that
 * for its dev tokens); a day for services, whose tokens are renewed every few minutes.
 */
export const DEFAULT_MAX_TOKEN_LIFETIMES: TokenLifetimes = { user: 30 * 86400, service: 86400 };

const maxLifetimeOf = (settings: TokenSettings, role: Role) => (settings.maxLifetime ?? DEFAULT_MAX_TOKEN_LIFETIMES)[role === 'service' ? 'service' : 'user'];

/** "30 days", "12 hours", "90 seconds": for messages. */
export function describeSeconds(seconds: number): string {
  const units: [number, string][] = [[86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [size, name] of units) {
    if (seconds % size === 0) return `${seconds / size} ${name}${seconds === size ? '' : 's'}`;
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

/** The refusal of a token (or a mint) whose life exceeds the maximum for its kind. */
export function tooLongLived(role: Role, settings: TokenSettings): string {
  const kind = role === 'service' ? 'service' : 'user';
  return `it lives longer than this server's maximum of ${describeSeconds(maxLifetimeOf(settings, role))} for ${kind} tokens`;
}

export const EMBEDDED_TOKEN_SETTINGS: TokenSettings = {
  issuer: 'vessl-secrets-embedded',
  audience: 'vessl-secrets',
};

export const ORG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SUBJECT_PATTERN = /^[A-Za-z0-9._@:+-]{1,256}$/;

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

/** Tokens whose verification is remembered, and for how long at most (well within any token's life). */
const VERIFIED_CACHE_ENTRIES = 1024;
const VERIFIED_CACHE_MS = 30_000;

/**
 * Verifies EdDSA JWTs against one key or a JWKS; every failure is UNAUTHENTICATED.
 * A signature check costs more than the rest of a small call, and a client sends the same
 * token on every call: a verified token is remembered (by its exact text, at most
 * VERIFIED_CACHE_ENTRIES of them, each for at most VERIFIED_CACHE_MS) and is accepted from
 * memory only while its exp (and nbf) would still pass jose's check: a token never
 * outlives its exp. Failures are never remembered.
 */
export function createTokenVerifier(
  key: CryptoKey | JWTVerifyGetKey,
  settings: TokenSettings,
  now: () => Date = () => new Date(),
): TokenVerifier {
  const verified = new Map<string, { principal: Principal; exp: number; nbf: number; until: number }>();
  const check = checkToken(key, settings, now);
  return {
    async verify(token) {
      const nowMs = now().getTime();
      const nowSeconds = Math.floor(nowMs / 1000);
      const hit = verified.get(token);
      if (hit && nowMs < hit.until && nowSeconds < hit.exp && hit.nbf <= nowSeconds) return { ...hit.principal };
      if (hit) verified.delete(token);
      const { principal, exp, nbf } = await check(token);
      if (verified.size >= VERIFIED_CACHE_ENTRIES) verified.delete(verified.keys().next().value!);
      verified.set(token, { principal, exp, nbf, until: nowMs + VERIFIED_CACHE_MS });
      return { ...principal };
    },
  };
}

/** One full verification: signature, issuer, audience, exp/nbf, and the claims we rely on. */
function checkToken(key: CryptoKey | JWTVerifyGetKey, settings: TokenSettings, now: () => Date) {
  return async (token: string): Promise<{ principal: Principal; exp: number; nbf: number }> => {
    let payload;
    try {
      const options = {
        algorithms: ['EdDSA'],
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ['exp', 'sub', 'role'],
        currentDate: now(),
      };
      // Two overloads (key vs key resolver) in jose's types; both verify the same way.
      payload = (
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options)
      ).payload;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // The identity provider's key set could not be fetched: not the caller's fault.
      if (code === 'ERR_JWKS_TIMEOUT' || (typeof key === 'function' && code === undefined)) {
        throw unavailable('cannot verify tokens right now: the identity provider is unreachable');
      }
      throw unauthenticated(code === 'ERR_JWT_EXPIRED' ? 'token expired; get a new one' : 'invalid token');
    }
    const role = payload.role;
    const org = typeof payload.org === 'string' ? payload.org : '';
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw unauthenticated('invalid token: unknown role');
    }
    if (typeof payload.sub !== 'string' || !SUBJECT_PATTERN.test(payload.sub)) {
      throw unauthenticated('invalid token: bad subject');
    }
    if (role !== 'service' && !ORG_PATTERN.test(org)) throw unauthenticated('invalid token: bad org claim');
    if (role === 'service' && !payload.sub.startsWith('svc:')) {
      throw unauthenticated('invalid token: service tokens need a svc: subject');
    }
    // Its life counts from when it was issued, or from now when it claims a later (or no) iat:
    // an exp far in the future is refused however the token dates itself.
    const nowSeconds = Math.floor(now().getTime() / 1000);
    const from = Math.min(typeof payload.iat === 'number' ? payload.iat : nowSeconds, nowSeconds);
    if (payload.exp! - from > maxLifetimeOf(settings, role as Role)) {
      throw unauthenticated(`invalid token: ${tooLongLived(role as Role, settings)}; get a shorter-lived one`);
    }
    // requiredClaims makes exp present; nbf is optional (jose checked it when present).
    return { principal: { subject: payload.sub, org, role: role as Role, expiresAt: payload.exp! }, exp: payload.exp!, nbf: payload.nbf ?? 0 };
  };
}

/** A remote JWKS (the platform's identity provider), fetched and cached by jose. */
export function remoteKeySet(url: string): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(url));
}

export interface MintOptions {
  subject: string;
  org: string;
  role: Role;
  ttlSeconds: number;
  settings: TokenSettings;
  now?: Date;
}

/** Signs a token; a life beyond the settings' maximum is refused here too (a RangeError). */
export async function mintToken(privateKey: CryptoKey, opts: MintOptions): Promise<string> {
  if (opts.ttlSeconds > maxLifetimeOf(opts.settings, opts.role)) throw new RangeError(`cannot mint this token: ${tooLongLived(opts.role, opts.settings)}`);
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const jwt = new SignJWT({ org: opts.org, role: opts.role })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setSubject(opts.subject)
    .setIssuer(opts.settings.issuer)
    .setAudience(opts.settings.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + opts.ttlSeconds)
    .setJti(randomUUID());
  return jwt.sign(privateKey);
}

export interface IssuerKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

const ISSUER_FILE = 'issuer-key.json';

/**
 * The embedded issuer's Ed25519 key, kept in the data dir (0600). Created on first use;
 * `create: false` is for processes that must only verify or mint with an existing key.
 */
export async function loadIssuerKeys(dataDir: string, create: boolean): Promise<IssuerKeys> {
  const file = path.join(dataDir, ISSUER_FILE);
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) {
      throw new Error(`cannot read the token issuer key ${file}: ${(err as Error).message}`, { cause: err });
    }
    const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    jwk = await exportJWK(pair.privateKey);
    // Write aside, then link into place: atomic, and it fails if another process won the
    // race, in which case we read theirs (never a half-written file).
    try {
      await createFileExclusive(file, JSON.stringify(jwk));
    } catch (createErr) {
      if ((createErr as NodeJS.ErrnoException).code !== 'EEXIST') throw createErr;
      return loadIssuerKeys(dataDir, false);
    }
  }
  const { d: _private, ...publicJwk } = jwk;
  return {
    privateKey: (await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey,
    publicKey: (await importJWK({ ...publicJwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey,
  };
}

/** Supplies the bearer token a service presents to the services it calls. */
export type ServiceTokenSource = () => Promise<string>;

/** Mints short-lived service tokens with the embedded issuer and renews them before expiry. */
export function embeddedServiceTokens(keys: IssuerKeys, serviceName: string, settings: TokenSettings): ServiceTokenSource {
  const ttlSeconds = 600;
  let cached: { token: string; renewAt: number } | undefined;
  return async () => {
    if (cached && Date.now() < cached.renewAt) return cached.token;
    const token = await mintToken(keys.privateKey, {
      subject: `svc:${serviceName}`,
      org: '',
      role: 'service',
      ttlSeconds,
      settings,
    });
    cached = { token, renewAt: Date.now() + (ttlSeconds / 2) * 1000 };
    return token;
  };
}

// ---- authorization ---------------------------------------------------------------

/** The user roles allowed to call an org-scoped RPC, for the org named in the request. */
export function requireOrgRole(principal: Principal, org: string, roles: readonly Role[], action: string): void {
  if (!roles.includes(principal.role) || principal.role === 'service') {
    throw permissionDenied(`role ${principal.role} may not ${action}`);
  }
  if (principal.org !== org) throw permissionDenied(`you may not ${action} in org "${org}"`);
}

/** Service-to-service RPCs: only the named services' identities. */
export function requireService(principal: Principal, services: readonly string[], action: string): void {
  if (principal.role !== 'service' || !services.some((s) => principal.subject === `svc:${s}`)) {
    throw permissionDenied(`only ${services.join(', ')} may ${action}`);
  }
}

export function requireRole(principal: Principal, roles: readonly Role[], action: string): void {
  if (!roles.includes(principal.role)) throw permissionDenied(`role ${principal.role} may not ${action}`);
}
