import { expect } from 'chai';
import { keyringKeys } from './keyring.js';
import { ApiError } from '../runtime/errors.js';
import { KEY_BYTES, randomBytes, sodiumReady, wrappedKeyVersion } from './envelope.js';
import { ValueFingerprints } from './fingerprints.js';
import type { MasterKeyring } from './keyring.js';
import type { AuditKeyRow, OrgKeyLifecycleStore } from './org-key-store.js';

type AuditKeyStore = Pick<OrgKeyLifecycleStore, 'auditKey' | 'insertAuditKey' | 'auditKeysNotOn' | 'replaceAuditKeyWrap'>;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Audit keys in memory, one per org like the table's primary key; every call yields. */
class FakeAuditKeyStore implements AuditKeyStore {
  readonly rows = new Map<string, AuditKeyRow>();

  async auditKey(org: string) {
    await tick();
    return this.rows.get(org);
  }
  async insertAuditKey(row: AuditKeyRow) {
    await tick();
    if (this.rows.has(row.org)) return false;
    this.rows.set(row.org, { ...row });
    return true;
  }
  async auditKeysNotOn(kekVersion: number) {
    await tick();
    return [...this.rows.values()].filter((r) => r.kekVersion !== kekVersion);
  }
  async replaceAuditKeyWrap(org: string, expected: Uint8Array, wrapped: Uint8Array, kekVersion: number) {
    await tick();
    const row = this.rows.get(org);
    if (!row || Buffer.compare(row.wrappedKey, expected) !== 0) return false;
    this.rows.set(org, { ...row, wrappedKey: wrapped, kekVersion });
    return true;
  }
}

describe('ValueFingerprints', () => {
  let store: FakeAuditKeyStore;
  let keyring: MasterKeyring;
  const value = new TextEncoder().encode('hf_value');

  before(async () => {
    await sodiumReady();
  });
  beforeEach(() => {
    store = new FakeAuditKeyStore();
    keyring = { primary: 1, keys: new Map([[1, randomBytes(KEY_BYTES)]]) };
  });

  it('agrees on one audit key per org when first uses race', async () => {
    const fingerprints = new ValueFingerprints(store, keyringKeys(keyring));
    const results = await Promise.all(Array.from({ length: 8 }, () => fingerprints.of('acme', value)));
    expect(store.rows.size).to.equal(1);
    for (const r of results) expect(Buffer.from(r).equals(Buffer.from(results[0]))).to.equal(true);
    expect(results[0]).to.have.length(32);
  });

  it('keys fingerprints per org and never returns the value', async () => {
    const fingerprints = new ValueFingerprints(store, keyringKeys(keyring));
    const acme = Buffer.from(await fingerprints.of('acme', value));
    const globex = Buffer.from(await fingerprints.of('globex', value));
    expect(acme.equals(globex)).to.equal(false);
    expect(acme.includes(Buffer.from(value))).to.equal(false);
  });

  it('keeps fingerprints stable through a master key rewrap, after which the old version can go', async () => {
    const fingerprints = new ValueFingerprints(store, keyringKeys(keyring));
    const before = Buffer.from(await fingerprints.of('acme', value));
    keyring.keys.set(2, randomBytes(KEY_BYTES));
    keyring.primary = 2;
    expect(await fingerprints.rewrapAuditKeys()).to.deep.equal({ rewrapped: 1, kekVersion: 2 });
    expect(await fingerprints.rewrapAuditKeys()).to.deep.equal({ rewrapped: 0, kekVersion: 2 });
    expect(wrappedKeyVersion(store.rows.get('acme')!.wrappedKey)).to.equal(2);
    keyring.keys.delete(1);
    expect(Buffer.from(await fingerprints.of('acme', value)).equals(before)).to.equal(true);
  });

  it('refuses an audit key moved to another org (DATA_LOSS)', async () => {
    const fingerprints = new ValueFingerprints(store, keyringKeys(keyring));
    await fingerprints.of('acme', value);
    store.rows.set('globex', { ...store.rows.get('acme')!, org: 'globex' });
    const err = await fingerprints.of('globex', value).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ApiError);
    expect((err as ApiError).reason).to.equal('CIPHERTEXT_INVALID');
  });
});
