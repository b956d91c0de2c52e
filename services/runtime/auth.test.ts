import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, base64url, type CryptoKey, type JWTPayload } from 'jose';
import { ApiError } from './errors.js';
import {
  createTokenVerifier,
  EMBEDDED_TOKEN_SETTINGS,
  loadIssuerKeys,
  mintToken,
  type MintOptions,
  type Principal,
  type TokenSettings,
} from './auth.js';

const SETTINGS: TokenSettings = EMBEDDED_TOKEN_SETTINGS;
const DAY = 86400;
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (secondsAfterT0: number) => new Date(T0.getTime() + secondsAfterT0 * 1000);
const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

interface Keys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Rejects unless the promise fails UNAUTHENTICATED; returns the message. */
async function unauthenticatedMessage(call: Promise<unknown>): Promise<string> {
  let outcome: unknown;
  try {
    outcome = await call;
  } catch (err) {
    expect(err).to.be.instanceOf(ApiError);
    expect((err as ApiError).code).to.equal(status.UNAUTHENTICATED);
    return (err as ApiError).message;
  }
  throw new Error(`expected UNAUTHENTICATED, but the token was accepted as ${JSON.stringify(outcome)}`);
}

const mint = (key: CryptoKey, overrides: Partial<MintOptions> = {}) =>
  mintToken(key, { subject: 'ada@acme', org: 'acme', role: 'admin', ttlSeconds: 60, settings: SETTINGS, now: T0, ...overrides });

/** Signs arbitrary claims with the embedded issuer's settings, for claims mintToken cannot produce. */
function signClaims(key: CryptoKey | Uint8Array, claims: JWTPayload, opts: { alg?: string; omitExp?: boolean; exp?: number; iat?: number | null } = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'EdDSA', typ: 'JWT' })
    .setIssuer(SETTINGS.issuer)
    .setAudience(SETTINGS.audience);
  if (opts.iat !== null) jwt.setIssuedAt(opts.iat ?? epoch(T0));
  if (!opts.omitExp) jwt.setExpirationTime(opts.exp ?? epoch(T0) + 60);
  return jwt.sign(key);
}

function unsignedToken(claims: JWTPayload): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

describe('createTokenVerifier', () => {
  let issuer: Keys;
  let stranger: Keys;
  before(async () => {
    issuer = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  });
  const verifyAt = (token: string, when: Date = at(1), settings: TokenSettings = SETTINGS) =>
    createTokenVerifier(issuer.publicKey, settings, () => when).verify(token);

  describe('accepts', () => {
    /** mint's tokens live 60 s from T0: the principal carries that exp. */
    const expiresAt = Math.floor(T0.getTime() / 1000) + 60;
    const cases: { title: string; token: () => Promise<string>; principal: Principal }[] = [
      {
        title: 'an admin token of an org',
        token: () => mint(issuer.privateKey),
        principal: { subject: 'ada@acme', org: 'acme', role: 'admin', expiresAt },
      },
      {
        title: 'a member token',
        token: () => mint(issuer.privateKey, { role: 'member', subject: 'mia@acme' }),
        principal: { subject: 'mia@acme', org: 'acme', role: 'member', expiresAt },
      },
      {
        title: 'an operator token',
        token: () => mint(issuer.privateKey, { role: 'operator', subject: 'otto' }),
        principal: { subject: 'otto', org: 'acme', role: 'operator', expiresAt },
      },
      {
        title: 'a service token with a svc: subject and no org',
        token: () => mint(issuer.privateKey, { role: 'service', subject: 'svc:job-launcher', org: '' }),
        principal: { subject: 'svc:job-launcher', org: '', role: 'service', expiresAt },
      },
    ];
    for (const c of cases) {
      it(`${c.title} as its principal`, async () => {
        expect(await verifyAt(await c.token())).to.deep.equal(c.principal);
      });
    }

    it('a user token that lives exactly the maximum (30 days)', async () => {
      expect((await verifyAt(await mint(issuer.privateKey, { ttlSeconds: 30 * DAY }))).role).to.equal('admin');
    });

    it('a service token that lives exactly its maximum (1 day)', async () => {
      expect((await verifyAt(await mint(issuer.privateKey, { role: 'service', subject: 'svc:job-launcher', org: '', ttlSeconds: DAY }))).role).to.equal('service');
    });

    it('a token one second before it expires', async () => {
      expect((await verifyAt(await mint(issuer.privateKey, { ttlSeconds: 60 }), at(59))).role).to.equal('admin');
    });
  });

  describe('rejects as UNAUTHENTICATED', () => {
    const cases: { title: string; token: () => Promise<string>; when?: Date; settings?: TokenSettings; message: RegExp }[] = [
      {
        title: 'an expired token, saying it expired',
        token: () => mint(issuer.privateKey, { ttlSeconds: 60 }),
        when: at(61),
        message: /expired/,
      },
      {
        title: 'a token at the very second it expires',
        token: () => mint(issuer.privateKey, { ttlSeconds: 60 }),
        when: at(60),
        message: /expired/,
      },
      {
        title: 'a token minted with a negative ttl',
        token: () => mint(issuer.privateKey, { ttlSeconds: -1 }),
        when: T0,
        message: /expired/,
      },
      {
        title: 'a token signed by another Ed25519 key',
        token: () => mint(stranger.privateKey),
        message: /^invalid token$/,
      },
      {
        title: 'an unsigned token (alg none)',
        token: async () =>
          unsignedToken({
            sub: 'ada@acme',
            org: 'acme',
            role: 'admin',
            iss: SETTINGS.issuer,
            aud: SETTINGS.audience,
            iat: epoch(T0),
            exp: epoch(T0) + 60,
          }),
        message: /^invalid token$/,
      },
      {
        title: 'an HS256 token signed with some shared secret',
        token: () => signClaims(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'), { sub: 'ada@acme', org: 'acme', role: 'admin' }, { alg: 'HS256' }),
        message: /^invalid token$/,
      },
      {
        title: 'an HS256 token keyed with the issuer\'s public key bytes (algorithm confusion)',
        token: async () => {
          const publicKeyBytes = base64url.decode((await exportJWK(issuer.publicKey)).x!);
          return signClaims(publicKeyBytes, { sub: 'ada@acme', org: 'acme', role: 'admin' }, { alg: 'HS256' });
        },
        message: /^invalid token$/,
      },
      {
        title: 'a token without an exp claim',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme', role: 'admin' }, { omitExp: true }),
        message: /^invalid token$/,
      },
      {
        title: 'a token without a role claim',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme' }),
        message: /invalid token/,
      },
      {
        title: 'a token with an unknown role',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme', role: 'superuser' }),
        message: /unknown role/,
      },
      {
        title: 'a token whose role is not a string',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme', role: ['admin'] }),
        message: /unknown role/,
      },
      {
        title: 'a user token without an org claim',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', role: 'admin' }),
        message: /bad org claim/,
      },
      {
        title: 'a user token whose org claim is not a valid org name',
        token: () => mint(issuer.privateKey, { org: 'Acme Corp!' }),
        message: /bad org claim/,
      },
      {
        title: 'a user token whose org claim is not a string',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 42, role: 'member' }),
        message: /bad org claim/,
      },
      {
        title: 'a token whose subject has characters outside the allowed set',
        token: () => mint(issuer.privateKey, { subject: 'ada acme' }),
        message: /bad subject/,
      },
      {
        title: 'a service token whose subject lacks the svc: prefix',
        token: () => mint(issuer.privateKey, { role: 'service', subject: 'job-launcher', org: '' }),
        message: /svc: subject/,
      },
      {
        title: 'a token for another audience',
        token: () => mint(issuer.privateKey, { settings: { ...SETTINGS, audience: 'some-other-api' } }),
        message: /^invalid token$/,
      },
      {
        title: 'a token from another issuer',
        token: () => mint(issuer.privateKey, { settings: { ...SETTINGS, issuer: 'https://evil.example' } }),
        message: /^invalid token$/,
      },
      {
        title: 'a genuine token checked against a verifier configured for another issuer',
        token: () => mint(issuer.privateKey),
        settings: { ...SETTINGS, issuer: 'https://idp.example' },
        message: /^invalid token$/,
      },
      {
        title: 'a genuinely signed admin token that expires in the year 5138, naming the maximum',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme', role: 'admin' }, { exp: epoch(new Date('5138-01-01T00:00:00Z')) }),
        message: /maximum of 30 days for user tokens/,
      },
      {
        title: 'a user token that lives 30 days and one second',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme', role: 'member' }, { exp: epoch(T0) + 30 * DAY + 1 }),
        message: /maximum of 30 days for user tokens/,
      },
      {
        title: 'a token without iat whose exp is 31 days away',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme', role: 'admin' }, { iat: null, exp: epoch(T0) + 31 * DAY }),
        message: /maximum of 30 days/,
      },
      {
        title: 'a token whose iat claims a later time to look short-lived (exp 60 days away)',
        token: () => signClaims(issuer.privateKey, { sub: 'ada@acme', org: 'acme', role: 'admin' }, { iat: epoch(T0) + 40 * DAY, exp: epoch(T0) + 60 * DAY }),
        message: /maximum of 30 days/,
      },
      {
        title: 'a service token that lives 2 days',
        token: () => signClaims(issuer.privateKey, { sub: 'svc:job-launcher', role: 'service' }, { exp: epoch(T0) + 2 * DAY }),
        message: /maximum of 1 day for service tokens/,
      },
      {
        title: 'a 2-hour token checked by a server whose maximum is 1 hour',
        token: () => mint(issuer.privateKey, { ttlSeconds: 7200 }),
        settings: { ...SETTINGS, maxLifetime: { user: 3600, service: 600 } },
        message: /maximum of 1 hour for user tokens/,
      },
      {
        title: 'a garbage string',
        token: async () => 'not-a-jwt',
        message: /^invalid token$/,
      },
      {
        title: 'an empty string',
        token: async () => '',
        message: /^invalid token$/,
      },
    ];
    for (const c of cases) {
      it(c.title, async () => {
        expect(await unauthenticatedMessage(verifyAt(await c.token(), c.when, c.settings))).to.match(c.message);
      });
    }
  });

  describe('minting', () => {
    const cases: { title: string; options: Partial<MintOptions>; message: RegExp }[] = [
      { title: 'a user token of 30 days and one second', options: { ttlSeconds: 30 * DAY + 1 }, message: /maximum of 30 days for user tokens/ },
      { title: 'a service token of 2 days', options: { role: 'service', subject: 'svc:x', org: '', ttlSeconds: 2 * DAY }, message: /maximum of 1 day for service tokens/ },
      { title: 'a 2-hour token under a 1-hour maximum', options: { ttlSeconds: 7200, settings: { ...SETTINGS, maxLifetime: { user: 3600, service: 60 } } }, message: /maximum of 1 hour/ },
    ];
    for (const c of cases) {
      it(`refuses to mint ${c.title}`, async () => {
        let failure: unknown;
        await mint(issuer.privateKey, c.options).catch((err: unknown) => (failure = err));
        expect(failure).to.be.instanceOf(RangeError);
        expect((failure as Error).message).to.match(c.message);
      });
    }
  });

  describe('remembering verified tokens', () => {
    /** One verifier whose clock the test moves, as a server's verifier lives across calls. */
    const clocked = () => {
      const clock = { now: at(1) };
      return { clock, verifier: createTokenVerifier(issuer.publicKey, SETTINGS, () => clock.now) };
    };

    it('refuses a remembered token from the second its exp passes', async () => {
      const { clock, verifier } = clocked();
      // A life shorter than how long a verification is remembered: exp alone must end it.
      const token = await mint(issuer.privateKey, { ttlSeconds: 20 });
      expect((await verifier.verify(token)).role).to.equal('admin');
      clock.now = at(19.999);
      expect((await verifier.verify(token)).role).to.equal('admin');
      clock.now = at(20);
      expect(await unauthenticatedMessage(verifier.verify(token))).to.match(/expired/);
    });

    it('never accepts a token that failed, however often it is sent', async () => {
      const { verifier } = clocked();
      const forged = await mint(stranger.privateKey);
      for (let i = 0; i < 3; i++) expect(await unauthenticatedMessage(verifier.verify(forged))).to.equal('invalid token');
    });

    it('remembers a token by its exact text: a changed signature is checked again and refused', async () => {
      const { verifier } = clocked();
      const token = await mint(issuer.privateKey);
      await verifier.verify(token);
      const last = token.at(-2) === 'A' ? 'B' : 'A';
      const tampered = `${token.slice(0, -2)}${last}${token.at(-1)}`;
      expect(await unauthenticatedMessage(verifier.verify(tampered))).to.equal('invalid token');
    });

    it('gives every caller its own copy of the principal', async () => {
      const { verifier } = clocked();
      const token = await mint(issuer.privateKey);
      const first = await verifier.verify(token);
      first.role = 'operator';
      expect((await verifier.verify(token)).role).to.equal('admin');
    });

    it('stays correct past its size bound (older tokens are verified again)', async () => {
      const { verifier } = clocked();
      const tokens = await Promise.all(Array.from({ length: 1100 }, (_, i) => mint(issuer.privateKey, { subject: `user${i}@acme` })));
      for (const t of tokens) await verifier.verify(t);
      for (const [i, t] of tokens.entries()) expect((await verifier.verify(t)).subject).to.equal(`user${i}@acme`);
    });
  });
});

describe('mintToken', () => {
  let issuer: Keys;
  before(async () => {
    issuer = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  });

  it('signs an EdDSA JWT carrying sub, org, role, iss, aud, iat, exp = iat + ttl and a jti', async () => {
    const token = await mint(issuer.privateKey, { ttlSeconds: 900 });
    expect(decodeProtectedHeader(token)).to.deep.equal({ alg: 'EdDSA', typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims).to.include({
      sub: 'ada@acme',
      org: 'acme',
      role: 'admin',
      iss: SETTINGS.issuer,
      aud: SETTINGS.audience,
      iat: epoch(T0),
      exp: epoch(T0) + 900,
    });
    expect(claims.jti).to.be.a('string').and.not.equal('');
  });

  it('gives every token its own jti', async () => {
    const [a, b] = await Promise.all([mint(issuer.privateKey), mint(issuer.privateKey)]);
    expect(decodeJwt(a).jti).to.not.equal(decodeJwt(b).jti);
  });
});

describe('loadIssuerKeys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-auth-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const keyFile = () => path.join(dir, 'issuer-key.json');

  it('creates the issuer key file with mode 0600 on first use', async () => {
    await loadIssuerKeys(dir, true);
    expect(statSync(keyFile()).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(keyFile(), 'utf8'))).to.include({ kty: 'OKP', crv: 'Ed25519' });
  });

  it('loads the same key again: a later load verifies tokens minted by the first', async () => {
    const first = await loadIssuerKeys(dir, true);
    const token = await mintToken(first.privateKey, { subject: 'ada@acme', org: 'acme', role: 'admin', ttlSeconds: 60, settings: SETTINGS });
    for (const create of [true, false]) {
      const again = await loadIssuerKeys(dir, create);
      const principal = await createTokenVerifier(again.publicKey, SETTINGS).verify(token);
      expect(principal).to.deep.equal({ subject: 'ada@acme', org: 'acme', role: 'admin', expiresAt: principal.expiresAt });
      expect(principal.expiresAt! * 1000 - Date.now()).to.be.within(0, 60_000);
    }
  });

  it('exposes a public key without the private part', async () => {
    const { publicKey } = await loadIssuerKeys(dir, true);
    const jwk = await exportJWK(publicKey);
    expect(jwk).to.include({ kty: 'OKP', crv: 'Ed25519' });
    expect(jwk).to.not.have.property('d');
  });

  it('refuses to create a key when asked only to load one', async () => {
    let message = '';
    await loadIssuerKeys(dir, false).catch((err: Error) => (message = err.message));
    expect(message).to.match(/cannot read the token issuer key/);
    expect(() => statSync(keyFile())).to.throw();
  });

  it('settles concurrent first loads on one key', async () => {
    const loads = await Promise.all(Array.from({ length: 8 }, () => loadIssuerKeys(dir, true)));
    const publicKeys = await Promise.all(loads.map(async (k) => (await exportJWK(k.publicKey)).x));
    expect(new Set(publicKeys).size).to.equal(1);
  });
});
