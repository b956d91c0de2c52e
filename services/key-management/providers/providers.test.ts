import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type * as Pkcs11Module from 'pkcs11js';
import { createSoftHsmToken, type SoftHsmToken } from '../../../test/support/softhsm.js';
import { status } from '@grpc/grpc-js';
import { ConfigError } from '../../runtime/config.js';
import { ApiError } from '../../runtime/errors.js';
import { createLogger } from '../../runtime/logger.js';
import { dekContext, KEY_BYTES, randomBytes, sodiumReady } from '../envelope.js';
import { createKeyringFile } from '../keyring.js';
import { fileKeyringProvider } from './file-keyring-provider.js';
import { RotationRaceError, type MasterKeyProvider } from './master-key-provider.js';
import { openPkcs11Provider, Pkcs11Error } from './pkcs11-provider.js';
import { masterKeyProviderSettings } from './provider-settings.js';

const pkcs11js = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Module;
const AAD = dekContext('acme', 's_one', 1);

/** What the shared table needs of a provider: open it (again, as after a restart) and clean up. */
interface ProviderKind {
  name: 'file' | 'pkcs11';
  setUp(): Promise<void>;
  open(): Promise<MasterKeyProvider>;
  tearDown(): void;
}

function fileKind(): ProviderKind {
  let dir = '';
  let file = '';
  return {
    name: 'file',
    async setUp() {
      dir = mkdtempSync(path.join(tmpdir(), 'vessl-keyring-'));
      file = path.join(dir, 'master-keyring.json');
      await createKeyringFile(file);
    },
    async open() {
      const { readKeyringFile } = await import('../keyring.js');
      return fileKeyringProvider(file, (await readKeyringFile(file))!, createLogger('test', undefined, 'silent'));
    },
    tearDown: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function pkcs11Kind(): ProviderKind & { token(): SoftHsmToken } {
  let token: SoftHsmToken;
  return {
    name: 'pkcs11',
    async setUp() {
      token = createSoftHsmToken();
    },
    async open() {
      return openPkcs11Provider({ modulePath: token.modulePath, tokenLabel: token.label, pin: token.pin });
    },
    tearDown: () => token?.remove(),
    token: () => token,
  };
}

/** Runs `body` with the provider open, closing it however `body` ends (one open provider at a time). */
async function withProvider<T>(kind: ProviderKind, body: (p: MasterKeyProvider) => Promise<T> | T): Promise<T> {
  const provider = await kind.open();
  try {
    return await body(provider);
  } finally {
    await provider.close();
  }
}

const versionOf = (blob: Uint8Array) => Buffer.from(blob).readUInt32BE(1);
/** The provider's own steps alone (the audit and the database are key-management's: tested end to end). */
const UNAUDITED_ROTATION = { known: [], audit: async () => {}, register: async () => true };
const UNAUDITED_RETIREMENT = { audit: async () => {}, forget: async () => {} };

for (const kind of [fileKind(), pkcs11Kind()]) {
  describe(`master-key provider: ${kind.name}`, function () {
    before(async () => {
      await sodiumReady();
      await kind.setUp();
    });
    after(() => kind.tearDown());

    const dek = randomBytes(KEY_BYTES);
    let v1Blob: Uint8Array;

    it('starts with version 1 as the primary and wraps a data key that unwraps to the same bytes', async () => {
      await withProvider(kind, (p) => {
        expect(p.versions()).to.deep.equal([1]);
        expect(p.primary()).to.equal(1);
        v1Blob = p.wrap(dek, AAD);
        expect(versionOf(v1Blob)).to.equal(1);
        expect(Buffer.from(p.unwrap(v1Blob, AAD)).equals(Buffer.from(dek))).to.equal(true);
      });
    });

    const refusals: { what: string; blob: () => Uint8Array; aad: string }[] = [
      { what: 'under another context (another secret)', blob: () => v1Blob, aad: dekContext('acme', 's_two', 1) },
      { what: 'under another version of the secret', blob: () => v1Blob, aad: dekContext('acme', 's_one', 2) },
      { what: 'with a flipped byte', blob: () => Uint8Array.from(v1Blob, (b, i) => (i === v1Blob.length - 3 ? b ^ 1 : b)), aad: AAD },
      { what: 'truncated', blob: () => v1Blob.subarray(0, v1Blob.length - 1), aad: AAD },
    ];
    for (const r of refusals) {
      it(`does not unwrap a wrapped key ${r.what}`, async () => {
        await withProvider(kind, (p) => expect(() => p.unwrap(r.blob(), r.aad)).to.throw(/failed to authenticate/));
      });
    }

    it('keeps its versions across a restart (a new process opens the same keys)', async () => {
      const checks = await withProvider(kind, (p) => p.keyCheck(1));
      await withProvider(kind, (p) => {
        expect(p.versions()).to.deep.equal([1]);
        expect(Buffer.from(p.keyCheck(1)).equals(Buffer.from(checks))).to.equal(true);
        expect(Buffer.from(p.unwrap(v1Blob, AAD)).equals(Buffer.from(dek))).to.equal(true);
      });
    });

    it('rotates: version 2 becomes the primary, new wraps use it, version 1 still unwraps', async () => {
      await withProvider(kind, async (p) => {
        expect(await p.rotate(UNAUDITED_ROTATION)).to.equal(2);
        expect(p.versions()).to.deep.equal([1, 2]);
        expect(p.primary()).to.equal(2);
        expect(versionOf(p.wrap(dek, AAD))).to.equal(2);
        expect(Buffer.from(p.unwrap(v1Blob, AAD)).equals(Buffer.from(dek))).to.equal(true);
        expect(Buffer.from(p.keyCheck(1)).equals(Buffer.from(p.keyCheck(2)))).to.equal(false);
      });
    });

    it('rewraps a data key under the primary (unwrap with version 1, wrap with version 2)', async () => {
      await withProvider(kind, (p) => {
        const rewrapped = p.wrap(p.unwrap(v1Blob, AAD), AAD);
        expect(versionOf(rewrapped)).to.equal(2);
        expect(Buffer.from(p.unwrap(rewrapped, AAD)).equals(Buffer.from(dek))).to.equal(true);
      });
    });

    it('refuses to retire the primary', async () => {
      await withProvider(kind, async (p) => {
        let refused: unknown;
        await p.retire(2, UNAUDITED_RETIREMENT).catch((err: unknown) => (refused = err));
        expect((refused as Error)?.message).to.match(/version 2 is the primary/);
        expect(p.versions()).to.deep.equal([1, 2]);
      });
    });

    it('retires version 1: gone for good (also after a restart), its wraps no longer open', async () => {
      await withProvider(kind, (p) => p.retire(1, UNAUDITED_RETIREMENT));
      await withProvider(kind, (p) => {
        expect(p.versions()).to.deep.equal([2]);
        expect(() => p.unwrap(v1Blob, AAD)).to.throw(/master key version 1 is not in/);
      });
    });
  });
}

describe('master-key provider: pkcs11 keeps its keys in the token', function () {
  let token: SoftHsmToken;
  before(() => {
    token = createSoftHsmToken('vessl-only-in-token', '98765');
  });
  after(() => token?.remove());

  it('generates each version as a sensitive, non-extractable, private key whose bytes no call returns', async () => {
    const provider = await openPkcs11Provider({ modulePath: token.modulePath, tokenLabel: token.label, pin: token.pin });
    await provider.rotate(UNAUDITED_ROTATION);
    await provider.close();
    // Look at the objects as any other client of the token would.
    const p11 = new pkcs11js.PKCS11();
    p11.load(token.modulePath);
    p11.C_Initialize();
    try {
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trimEnd() === token.label)!;
      const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      p11.C_Login(session, pkcs11js.CKU_USER, token.pin);
      p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }]);
      const handles = p11.C_FindObjects(session, 100);
      p11.C_FindObjectsFinal(session);
      expect(handles).to.have.length(2);
      for (const handle of handles) {
        const [sensitive, extractable, isPrivate] = p11.C_GetAttributeValue(session, handle, [
          { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_EXTRACTABLE },
          { type: pkcs11js.CKA_PRIVATE },
        ]);
        expect([sensitive.value[0], extractable.value[0], isPrivate.value[0]]).to.deep.equal([1, 0, 1]);
        expect(() => p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE }])).to.throw(/CKR_ATTRIBUTE_SENSITIVE/);
      }
      // Without the PIN, not even the objects are visible.
      p11.C_Logout(session);
      p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }]);
      expect(p11.C_FindObjects(session, 100)).to.have.length(0);
      p11.C_FindObjectsFinal(session);
      p11.C_CloseSession(session);
    } finally {
      p11.C_Finalize();
    }
  });

  const failures: { what: string; settings: () => Parameters<typeof openPkcs11Provider>[0]; message: RegExp }[] = [
    { what: 'a wrong PIN', settings: () => ({ modulePath: token.modulePath, tokenLabel: token.label, pin: '00000' }), message: /cannot log in to the token: CKR_PIN_INCORRECT/ },
    { what: 'an unknown token label', settings: () => ({ modulePath: token.modulePath, tokenLabel: 'no-such-token', pin: token.pin }), message: /no token labelled "no-such-token"/ },
    { what: 'a module that does not exist', settings: () => ({ modulePath: '/nonexistent/libpkcs11.so', tokenLabel: token.label, pin: token.pin }), message: /cannot load the PKCS#11 module \/nonexistent\/libpkcs11.so/ },
  ];
  for (const f of failures) {
    it(`refuses to open with ${f.what}, saying so`, async () => {
      let err: unknown;
      try {
        await openPkcs11Provider(f.settings());
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(Pkcs11Error);
      expect((err as Error).message).to.match(f.message);
    });
  }
});

describe('master-key provider: pkcs11 shared by replicas, and failures of the token', function () {
  let token: SoftHsmToken;
  const settings = () => ({ modulePath: token.modulePath, tokenLabel: token.label, pin: token.pin });
  const steps = (register: () => Promise<boolean>) => ({ known: [], audit: async () => {}, register });
  const refusal = async (p: Promise<unknown>): Promise<Error> => p.then(() => expect.fail('it succeeded'), (err: Error) => err);
  beforeEach(() => {
    token = createSoftHsmToken('vessl-replicas', '13579');
  });
  afterEach(() => token?.remove());

  it('removes its new key when another replica registered that version first, and changes nothing', async () => {
    const a = await openPkcs11Provider(settings());
    try {
      const err = await refusal(a.rotate(steps(async () => false)));
      expect(err).to.be.instanceOf(RotationRaceError);
      expect(err.message).to.match(/another key-management replica made master key version 2 at the same time/);
      expect(a.versions()).to.deep.equal([1]);
      const b = await openPkcs11Provider(settings());
      expect(b.versions()).to.deep.equal([1]);
      await b.close();
    } finally {
      await a.close();
    }
  });

  it('keeps its new key when registering failed without an answer: it may be registered, and the next reload adopts it', async () => {
    const a = await openPkcs11Provider(settings());
    try {
      await refusal(a.rotate(steps(async () => Promise.reject(new Error('Connection terminated')))));
      expect(a.versions()).to.deep.equal([1]);
      expect(await a.reload({ force: false, destroyed: new Set(), accept: async () => {} })).to.equal(true);
      expect(a.versions()).to.deep.equal([1, 2]);
    } finally {
      await a.close();
    }
  });

  it('rotates above a version another replica made but has not registered, and uses that one only once a reload adopts it', async () => {
    const [a, b] = [await openPkcs11Provider(settings()), await openPkcs11Provider(settings())];
    try {
      await b.rotate(steps(async () => true));
      let audited = 0;
      expect(await a.rotate({ known: [1], audit: async (v) => void (audited = v), register: async () => true })).to.equal(3);
      expect(audited).to.equal(3);
      expect(a.versions()).to.deep.equal([1, 3]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('answers UNAVAILABLE, not "altered", when the token cannot run an unwrap (its key object is gone)', async () => {
    const [a, b] = [await openPkcs11Provider(settings()), await openPkcs11Provider(settings())];
    try {
      const blob = a.wrap(randomBytes(KEY_BYTES), AAD);
      await b.rotate(steps(async () => true));
      await b.retire(1, { audit: async () => {}, forget: async () => {} });
      let err: unknown;
      try {
        a.unwrap(blob, AAD);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ApiError);
      expect((err as ApiError).code).to.equal(status.UNAVAILABLE);
      expect((err as Error).message).to.match(/HSM token "vessl-replicas" did not perform the operation \(CKR_/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('destroys a version the database retired that the token still holds (a crash between the two)', async () => {
    const a = await openPkcs11Provider(settings());
    try {
      await a.rotate(steps(async () => true));
      expect(await a.reload({ force: false, destroyed: new Set([1]), accept: async () => {} })).to.equal(true);
      expect(a.versions()).to.deep.equal([2]);
    } finally {
      await a.close();
    }
    const again = await openPkcs11Provider(settings());
    expect(again.versions()).to.deep.equal([2]);
    await again.close();
  });

  it('refuses a token holding two keys under one version label, naming it, instead of picking one', async () => {
    await (await openPkcs11Provider(settings())).close();
    // A second vessl-kek-v1, made as a rotation race's loser would have before dying.
    const p11 = new pkcs11js.PKCS11();
    p11.load(token.modulePath);
    p11.C_Initialize();
    try {
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trimEnd() === token.label)!;
      const session = p11.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
      p11.C_Login(session, pkcs11js.CKU_USER, token.pin);
      p11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_LABEL, value: 'vessl-kek-v1' },
      ]);
      p11.C_CloseSession(session);
    } finally {
      p11.C_Finalize();
    }
    const err = await refusal(openPkcs11Provider(settings()));
    expect(err.message).to.match(/holds more than one key labelled vessl-kek-v1; delete the one whose key check value/);
  });

  it('refuses a second session of this process with another PIN, though the token is logged in already', async () => {
    const a = await openPkcs11Provider(settings());
    try {
      const err = await refusal(openPkcs11Provider({ ...settings(), pin: 'WRONG-PIN' }));
      expect(err.message).to.match(/cannot log in to the token: CKR_PIN_INCORRECT/);
      expect(a.versions()).to.deep.equal([1]);
    } finally {
      await a.close();
    }
  });

  it('shares the module between spellings of its path: closing one provider leaves the other working', async () => {
    const link = path.join(mkdtempSync(path.join(tmpdir(), 'vessl-p11-link-')), 'libsofthsm2.so');
    symlinkSync(token.modulePath, link);
    const a = await openPkcs11Provider(settings());
    const b = await openPkcs11Provider({ ...settings(), modulePath: link });
    await b.close();
    try {
      const key = randomBytes(KEY_BYTES);
      expect(Buffer.from(a.unwrap(a.wrap(key, AAD), AAD)).equals(Buffer.from(key))).to.equal(true);
    } finally {
      await a.close();
      rmSync(path.dirname(link), { recursive: true, force: true });
    }
  });
});

describe('masterKeyProviderSettings', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-pin-'));
    writeFileSync(path.join(dir, 'pin'), '24680\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const base = { VESSL_MASTER_KEY_PROVIDER: 'pkcs11', VESSL_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so' };
  it('is the keyring file by default', () => {
    expect(masterKeyProviderSettings({}, '/data/master-keyring.json', {})).to.deep.equal({ kind: 'file', keyringFile: '/data/master-keyring.json' });
  });
  it('reads the PIN from a file (its trailing newline dropped)', () => {
    expect(masterKeyProviderSettings({}, 'k', { ...base, VESSL_PKCS11_TOKEN_LABEL: 'vessl', VESSL_PKCS11_PIN_FILE: path.join(dir, 'pin') })).to.deep.equal({
      kind: 'pkcs11',
      modulePath: base.VESSL_PKCS11_MODULE,
      tokenLabel: 'vessl',
      pin: '24680',
    });
  });
  it('reads the PIN from env, and a slot id instead of a label', () => {
    expect(masterKeyProviderSettings({}, 'k', { ...base, VESSL_PKCS11_SLOT: '7', VESSL_PKCS11_PIN: '1357' })).to.deep.equal({ kind: 'pkcs11', modulePath: base.VESSL_PKCS11_MODULE, slot: 7, pin: '1357' });
  });
  const bad: { what: string; env: NodeJS.ProcessEnv; message: RegExp }[] = [
    { what: 'an unknown provider', env: { VESSL_MASTER_KEY_PROVIDER: 'vault' }, message: /must be "file" or "pkcs11"/ },
    { what: 'no module', env: { VESSL_MASTER_KEY_PROVIDER: 'pkcs11', VESSL_PKCS11_TOKEN_LABEL: 'x', VESSL_PKCS11_PIN: '1' }, message: /needs VESSL_PKCS11_MODULE/ },
    { what: 'neither label nor slot', env: { ...base, VESSL_PKCS11_PIN: '1' }, message: /exactly one of VESSL_PKCS11_TOKEN_LABEL and VESSL_PKCS11_SLOT/ },
    { what: 'both label and slot', env: { ...base, VESSL_PKCS11_TOKEN_LABEL: 'x', VESSL_PKCS11_SLOT: '1', VESSL_PKCS11_PIN: '1' }, message: /exactly one of/ },
    { what: 'a slot that is no number', env: { ...base, VESSL_PKCS11_SLOT: 'first', VESSL_PKCS11_PIN: '1' }, message: /is not a slot id/ },
    { what: 'no PIN', env: { ...base, VESSL_PKCS11_TOKEN_LABEL: 'x' }, message: /exactly one of VESSL_PKCS11_PIN_FILE and VESSL_PKCS11_PIN/ },
    { what: 'both PIN sources', env: { ...base, VESSL_PKCS11_TOKEN_LABEL: 'x', VESSL_PKCS11_PIN: '1', VESSL_PKCS11_PIN_FILE: '/p' }, message: /exactly one of VESSL_PKCS11_PIN_FILE/ },
    { what: 'a PIN file that cannot be read', env: { ...base, VESSL_PKCS11_TOKEN_LABEL: 'x', VESSL_PKCS11_PIN_FILE: '/nonexistent/pin' }, message: /cannot read VESSL_PKCS11_PIN_FILE \/nonexistent\/pin: ENOENT/ },
  ];
  for (const b of bad) {
    it(`refuses ${b.what}`, () => {
      expect(() => masterKeyProviderSettings({}, 'k', b.env)).to.throw(ConfigError, b.message);
    });
  }
});

