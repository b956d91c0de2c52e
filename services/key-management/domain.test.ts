import { createHmac } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { keyringKeys } from './keyring.js';
import { ApiError } from '../runtime/errors.js';
import { MAX_VALUE_BYTES } from '../runtime/sealed-value.js';
import { ORG_KEY_STALE, KeyManager, type EncryptedValue, type StoredValue } from './domain.js';
import { KEY_BYTES, randomBytes, sodiumReady } from './envelope.js';
import type { MasterKeyring } from './keyring.js';
import type { KmsStore, OrgKeyRow } from './store.js';

/** A stand-in for the org audit keys: a keyed hash under a fixed test key. */
const FINGERPRINTS = {
  async of(org: string, value: Uint8Array) {
    return createHmac('sha256', `test-audit-key|${org}`).update(value).digest();
  },
  async ofMany(org: string, values: Uint8Array[]) {
    return Promise.all(values.map((v) => FINGERPRINTS.of(org, v)));
  },
};

/** KeyManager against a tiny in-memory store: org keys, sealed values, envelope encryption. */

type Sodium = Awaited<ReturnType<typeof sodiumReady>>;
type OrgKeyStore = Pick<KmsStore, 'primaryOrgKey' | 'orgKey' | 'insertPrimaryOrgKey'>;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Keeps org keys in memory with the database's rule: at most one primary per org. Every call yields, so callers interleave. */
class FakeOrgKeyStore implements OrgKeyStore {
  readonly rows: OrgKeyRow[] = [];
  inserts = 0;

  async primaryOrgKey(org: string) {
    await tick();
    return this.rows.find((r) => r.org === org && r.state === 'primary');
  }
  async orgKey(org: string, keyId: string) {
    await tick();
    return this.rows.find((r) => r.org === org && r.keyId === keyId);
  }
  async insertPrimaryOrgKey(row: OrgKeyRow) {
    await tick();
    this.inserts++;
    if (this.rows.some((r) => r.org === row.org && r.state === 'primary')) return false;
    this.rows.push({ ...row });
    return true;
  }
}

function keyring(primary: number, versions: number[], from?: MasterKeyring): MasterKeyring {
  return { primary, keys: new Map(versions.map((v) => [v, from?.keys.get(v) ?? randomBytes(KEY_BYTES)])) };
}

async function failure(promise: Promise<unknown> | (() => unknown)): Promise<ApiError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    expect(err).to.be.instanceOf(ApiError);
    return err as ApiError;
  }
  return expect.fail('expected an ApiError');
}

describe('KeyManager', () => {
  let sodium: Sodium;
  let store: FakeOrgKeyStore;
  let ring: MasterKeyring;
  let km: KeyManager;
  const NOW = new Date('2026-11-26T12:00:00Z');

  before(async () => {
    sodium = await sodiumReady();
  });
  beforeEach(() => {
    store = new FakeOrgKeyStore();
    ring = keyring(1, [1]);
    km = new KeyManager(store, keyringKeys(ring), FINGERPRINTS, () => NOW);
  });

  /** Seals like a client: crypto_box_seal under the org's current public key. */
  async function seal(org: string, value: Uint8Array | string, manager = km) {
    const key = await manager.orgPublicKey(org);
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    return { sealedBox: sodium.crypto_box_seal(bytes, key.publicKey), keyId: key.keyId };
  }

  async function encrypt(org: string, secretUid: string, version: number, value: Uint8Array | string, manager = km): Promise<StoredValue> {
    const sealed = await seal(org, value, manager);
    const encrypted = await manager.encryptSealedValue({ org, secretUid, version, ...sealed });
    return { ...encrypted, secretUid, version };
  }

  const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

  describe('orgPublicKey', () => {
    it('creates the org keypair on first use, wrapped under the primary master key', async () => {
      const key = await km.orgPublicKey('acme');
      expect(key).to.include({ org: 'acme', state: 'primary', kekVersion: 1, createdAt: NOW.getTime() });
      expect(key.keyId).to.match(/^ok_[A-Za-z0-9_-]+$/);
      expect(key.publicKey.length).to.equal(32);
      expect(store.rows).to.have.length(1);
    });

    it('returns the same key on later calls', async () => {
      const first = await km.orgPublicKey('acme');
      const again = await km.orgPublicKey('acme');
      expect(again.keyId).to.equal(first.keyId);
      expect(store.inserts).to.equal(1);
    });

    it('gives each org its own key', async () => {
      const a = await km.orgPublicKey('acme');
      const b = await km.orgPublicKey('globex');
      expect(a.keyId).to.not.equal(b.keyId);
      expect(Buffer.from(a.publicKey).equals(Buffer.from(b.publicKey))).to.equal(false);
    });

    it('lets 10 concurrent first calls agree on one key', async () => {
      const keys = await Promise.all(Array.from({ length: 10 }, () => km.orgPublicKey('acme')));
      expect(new Set(keys.map((k) => k.keyId)).size).to.equal(1);
      expect(new Set(keys.map((k) => Buffer.from(k.publicKey).toString('hex'))).size).to.equal(1);
      expect(store.rows).to.have.length(1);
      expect(keys[0].keyId).to.equal(store.rows[0].keyId);
      expect(store.inserts, 'the calls really raced').to.be.greaterThan(1);
    });

    it('never stores the private key in the clear', async () => {
      const key = await km.orgPublicKey('acme');
      // The wrapped key is format(1) + version(4) + nonce(24) + 32-byte key + tag(16).
      expect(key.wrappedPrivateKey.length).to.equal(1 + 4 + 24 + 32 + 16);
    });
  });

  describe('encryptSealedValue and decryptForInjection', () => {
    const values: [string, Uint8Array | string][] = [
      ['a token', 'hf_abc123'],
      ['a multi-line PEM', '-----BEGIN KEY-----\nMIIE\r\n-----END KEY-----\n'],
      ['one byte', Uint8Array.of(0)],
      ['exactly 64 KiB', randomBytes(MAX_VALUE_BYTES)],
    ];
    for (const [what, value] of values) {
      it(`round-trips ${what} byte for byte`, async () => {
        const stored = await encrypt('acme', 's_1', 1, value);
        const [plain] = km.decryptForInjection('acme', [stored]);
        const expected = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
        expect(Buffer.from(plain).equals(expected)).to.equal(true);
      });
    }

    it('encrypts under the primary master key and never returns the plaintext', async () => {
      const stored = await encrypt('acme', 's_1', 1, 'recognisable-plaintext');
      expect(stored.kekVersion).to.equal(1);
      expect(Buffer.from(stored.ciphertext).includes(Buffer.from('recognisable-plaintext'))).to.equal(false);
    });

    it('decrypts several values in order', async () => {
      const a = await encrypt('acme', 's_a', 1, 'first');
      const b = await encrypt('acme', 's_b', 3, 'second');
      expect(km.decryptForInjection('acme', [b, a]).map(text)).to.deep.equal(['second', 'first']);
      expect(km.decryptForInjection('acme', [])).to.deep.equal([]);
    });

    it('keeps opening values sealed under a previous org key', async () => {
      const sealed = await seal('acme', 'old-key-value');
      store.rows[0].state = 'previous';
      const encrypted = await km.encryptSealedValue({ org: 'acme', secretUid: 's_1', version: 1, ...sealed });
      expect(text(km.decryptForInjection('acme', [{ ...encrypted, secretUid: 's_1', version: 1 }])[0])).to.equal('old-key-value');
    });

    it('encrypts several values in one call, under the current and a previous org key, each for its own secret version', async () => {
      const old = await seal('acme', 'sealed-under-the-old-key');
      store.rows[0].state = 'previous';
      const fresh = km.newOrgKey('acme');
      store.rows.push(fresh);
      const current = { sealedBox: sodium.crypto_box_seal(new TextEncoder().encode('sealed-under-the-new-key'), fresh.publicKey), keyId: fresh.keyId };
      const values = [
        { secretUid: 's_x', version: 1, ...current },
        { secretUid: 's_y', version: 4, ...old },
      ];
      const encrypted = await km.encryptSealedValues('acme', values);
      const stored = encrypted.map((e, i) => ({ ...e, secretUid: values[i].secretUid, version: values[i].version }));
      expect(km.decryptForInjection('acme', stored).map(text)).to.deep.equal(['sealed-under-the-new-key', 'sealed-under-the-old-key']);
      expect(Buffer.from(encrypted[1].fingerprint).equals(await FINGERPRINTS.of('acme', new TextEncoder().encode('sealed-under-the-old-key')))).to.equal(true);
      // Bound to its own secret and version: swapped, they do not decrypt.
      expect(await failure(() => km.decryptForInjection('acme', [{ ...stored[0], version: 4 }]))).to.include({ code: status.DATA_LOSS });
    });

    it('fails a call of several values as a whole, naming the value that failed', async () => {
      const good = await seal('acme', 'good');
      const empty = await seal('acme', new Uint8Array(0));
      const err = await failure(km.encryptSealedValues('acme', [{ secretUid: 's_1', version: 1, ...good }, { secretUid: 's_2', version: 1, ...empty }]));
      expect(err.fieldViolations.map((v) => v.field)).to.deep.equal(['requests[1].sealed_box']);
      const stale = await failure(km.encryptSealedValues('acme', [{ secretUid: 's_1', version: 1, ...good }, { secretUid: 's_2', version: 1, ...good, keyId: 'ok_gone' }]));
      expect(stale).to.include({ code: status.FAILED_PRECONDITION, reason: 'ORG_KEY_STALE' });
      expect(stale.message).to.match(/^requests\[1\]: key_id "ok_gone"/);
    });

    it('decrypts values written under an older master key after a new primary is added', async () => {
      const old = await encrypt('acme', 's_1', 1, 'under-v1');
      const rotated = keyring(2, [1, 2], ring);
      const km2 = new KeyManager(store, keyringKeys(rotated), FINGERPRINTS, () => NOW);
      const fresh = await encrypt('acme', 's_2', 1, 'under-v2', km2);
      expect(fresh.kekVersion).to.equal(2);
      expect(km2.decryptForInjection('acme', [old, fresh]).map(text)).to.deep.equal(['under-v1', 'under-v2']);
    });
  });

  describe('refusals', () => {
    interface SealCase {
      name: string;
      request(): Promise<{ sealedBox: Uint8Array; keyId: string; org?: string }>;
      code: status;
      reason?: string;
      field?: string;
    }
    const sealCases: SealCase[] = [
      {
        name: 'an unknown key_id is FAILED_PRECONDITION ORG_KEY_STALE (refetch the key)',
        request: async () => ({ ...(await seal('acme', 'v')), keyId: 'ok_unknown' }),
        code: status.FAILED_PRECONDITION,
        reason: ORG_KEY_STALE,
      },
      {
        name: "another org's key_id is FAILED_PRECONDITION ORG_KEY_STALE",
        request: async () => ({ ...(await seal('globex', 'v')), org: 'acme' }),
        code: status.FAILED_PRECONDITION,
        reason: ORG_KEY_STALE,
      },
      {
        name: 'a retired key_id is FAILED_PRECONDITION ORG_KEY_STALE',
        request: async () => {
          const sealed = await seal('acme', 'v');
          store.rows[0].state = 'retired';
          return sealed;
        },
        code: status.FAILED_PRECONDITION,
        reason: ORG_KEY_STALE,
      },
      {
        name: 'a box sealed under another keypair is INVALID_ARGUMENT on sealed_box',
        request: async () => {
          const { keyId } = await km.orgPublicKey('acme');
          const stranger = sodium.crypto_box_keypair();
          return { sealedBox: sodium.crypto_box_seal(new TextEncoder().encode('v'), stranger.publicKey), keyId };
        },
        code: status.INVALID_ARGUMENT,
        field: 'sealed_box',
      },
      {
        name: 'garbage in place of a sealed box is INVALID_ARGUMENT on sealed_box',
        request: async () => ({ sealedBox: randomBytes(80), keyId: (await km.orgPublicKey('acme')).keyId }),
        code: status.INVALID_ARGUMENT,
        field: 'sealed_box',
      },
      {
        name: 'a truncated sealed box is INVALID_ARGUMENT on sealed_box',
        request: async () => {
          const sealed = await seal('acme', 'value');
          return { ...sealed, sealedBox: sealed.sealedBox.subarray(0, sealed.sealedBox.length - 1) };
        },
        code: status.INVALID_ARGUMENT,
        field: 'sealed_box',
      },
      {
        name: 'an empty value is INVALID_ARGUMENT on sealed_box',
        request: () => seal('acme', new Uint8Array(0)),
        code: status.INVALID_ARGUMENT,
        field: 'sealed_box',
      },
      {
        name: 'a value of 64 KiB + 1 byte is INVALID_ARGUMENT on sealed_box',
        request: () => seal('acme', randomBytes(MAX_VALUE_BYTES + 1)),
        code: status.INVALID_ARGUMENT,
        field: 'sealed_box',
      },
    ];
    for (const c of sealCases) {
      it(`encryptSealedValue: ${c.name}`, async () => {
        const { org = 'acme', ...sealed } = await c.request();
        const err = await failure(km.encryptSealedValue({ org, secretUid: 's_1', version: 1, ...sealed }));
        expect(err.code, err.message).to.equal(c.code);
        if (c.reason) expect(err.reason).to.equal(c.reason);
        if (c.field) expect(err.fieldViolations.map((v) => v.field)).to.deep.equal([c.field]);
        if (c.code === status.FAILED_PRECONDITION) expect(err.message).to.match(/fetch the org public key again/);
      });
    }

    it('encryptSealedValue: an org key whose master key version left the keyring is FAILED_PRECONDITION', async () => {
      const rotated = keyring(2, [1, 2], ring);
      const sealed = await seal('acme', 'v'); // org key wrapped under v1
      const withoutV1 = new KeyManager(store, keyringKeys(keyring(2, [2], rotated)), FINGERPRINTS, () => NOW);
      const err = await failure(withoutV1.encryptSealedValue({ org: 'acme', secretUid: 's_1', version: 1, ...sealed }));
      expect(err.code).to.equal(status.FAILED_PRECONDITION);
      expect(err.message).to.include('version 1');
    });

    it('encryptSealedValue: a stored org key moved to another org does not unwrap (DATA_LOSS)', async () => {
      const sealed = await seal('globex', 'v');
      store.rows[0].org = 'acme'; // tampered row: its wrapped key is bound to org "globex"
      const err = await failure(km.encryptSealedValue({ org: 'acme', secretUid: 's_1', version: 1, ...sealed }));
      expect(err.code).to.equal(status.DATA_LOSS);
    });

    const swaps: [string, (v: StoredValue) => { org: string; value: StoredValue }][] = [
      ['another secret uid', (v) => ({ org: 'acme', value: { ...v, secretUid: 's_2' } })],
      ['another version', (v) => ({ org: 'acme', value: { ...v, version: v.version + 1 } })],
      ['another org', (v) => ({ org: 'globex', value: v })],
    ];
    for (const [what, swap] of swaps) {
      it(`decryptForInjection: a value presented under ${what} is DATA_LOSS`, async () => {
        const stored = await encrypt('acme', 's_1', 1, 'bound');
        const { org, value } = swap(stored);
        const err = await failure(() => km.decryptForInjection(org, [value]));
        expect(err.code).to.equal(status.DATA_LOSS);
        expect(err.reason).to.equal('CIPHERTEXT_INVALID');
        expect(err.message).to.not.include('bound');
      });
    }

    it("decryptForInjection: one secret's ciphertext with another's data key is DATA_LOSS", async () => {
      const a = await encrypt('acme', 's_1', 1, 'a');
      const b = await encrypt('acme', 's_1', 1, 'b');
      const mixed: StoredValue = { ...a, ciphertext: b.ciphertext };
      const err = await failure(() => km.decryptForInjection('acme', [mixed]));
      expect(err.code).to.equal(status.DATA_LOSS);
    });

    const tampering: [string, (v: EncryptedValue) => EncryptedValue][] = [
      ['a flipped ciphertext byte', (v) => ({ ...v, ciphertext: Uint8Array.from(v.ciphertext, (x, i) => (i === 30 ? x ^ 1 : x)) })],
      ['a flipped wrapped-key byte', (v) => ({ ...v, wrappedDek: Uint8Array.from(v.wrappedDek, (x, i) => (i === 40 ? x ^ 1 : x)) })],
      ['a truncated ciphertext', (v) => ({ ...v, ciphertext: v.ciphertext.subarray(0, 10) })],
    ];
    for (const [what, tamper] of tampering) {
      it(`decryptForInjection: ${what} is DATA_LOSS`, async () => {
        const stored = await encrypt('acme', 's_1', 1, 'value');
        const err = await failure(() => km.decryptForInjection('acme', [{ ...stored, ...tamper(stored) }]));
        expect(err.code).to.equal(status.DATA_LOSS);
      });
    }

    it('decryptForInjection: a master key version missing from the keyring is FAILED_PRECONDITION', async () => {
      const rotated = keyring(2, [1, 2], ring);
      const underV2 = await encrypt('acme', 's_1', 1, 'v2 value', new KeyManager(store, keyringKeys(rotated), FINGERPRINTS, () => NOW));
      expect(underV2.kekVersion).to.equal(2);
      const err = await failure(() => km.decryptForInjection('acme', [underV2]));
      expect(err.code).to.equal(status.FAILED_PRECONDITION);
      expect(err.message).to.include('version 2');
    });

    it('decryptForInjection: fails as a whole when any one value fails', async () => {
      const good = await encrypt('acme', 's_1', 1, 'good');
      const bad = { ...(await encrypt('acme', 's_2', 1, 'bad')), version: 9 };
      const err = await failure(() => km.decryptForInjection('acme', [good, bad]));
      expect(err.code).to.equal(status.DATA_LOSS);
      expect(err.message).to.include('s_2');
    });
  });
});
