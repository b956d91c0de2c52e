import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MasterKey_State } from '../services/gen/vessl/kms/v1/kms.js';
import { openPkcs11Provider } from '../services/key-management/providers/pkcs11-provider.js';
import type { MasterKeyProviderSettings } from '../services/key-management/providers/provider-settings.js';
import { engines } from './support/postgres.js';
import { refusedStart, startServerProcess } from './support/processes.js';
import { expectAllDecrypt, seedSecrets } from './support/seed.js';
import { createSoftHsmToken, type SoftHsmToken } from './support/softhsm.js';
import { startTestSystem, type SecretClient, type TestSystem } from './support/system.js';

const hsmSettings = (token: SoftHsmToken): MasterKeyProviderSettings => ({ kind: 'pkcs11', modulePath: token.modulePath, tokenLabel: token.label, pin: token.pin });

/**
 * The master key in an HSM (SoftHSM2 over PKCS#11): the whole lifecycle that the file keyring
 * has (create, launch, rotate, rewrap, retire, restart) with the keys generated in the token,
 * and nothing in the data dir that opens a value.
 */
for (const engine of engines()) {
  describe(`master keys in an HSM token (${engine.name})`, function () {
    let token: SoftHsmToken;
    let sys: TestSystem | undefined;
    let admin: SecretClient;
    let values: Map<string, string>;
    const operator = async () => sys!.kms(await sys!.token('operator'));
    before(async () => {
      token = createSoftHsmToken(`vessl-e2e-${engine.name}`, '2468');
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), masterKeys: hsmSettings(token) });
      admin = sys.secrets(await sys.token('admin'));
      values = await seedSecrets(sys, admin, 'hsm', 120);
    });
    after(async () => {
      await sys?.stop();
      token?.remove();
      await engine.cleanup();
    });

    it('keeps no master key in the data dir: version 1 was generated in the token', async () => {
      expect(existsSync(path.join(sys!.dataDir, 'master-keyring.json'))).to.equal(false);
      const { keys } = await (await operator()).listMasterKeys({});
      expect(keys.map((k) => [k.version, k.primary, k.state])).to.deep.equal([[1, true, MasterKey_State.STATE_ENABLED]]);
      await expectAllDecrypt(sys!, values);
    });

    it('rotates in the token: new writes use version 2 at once, older values still open', async () => {
      const rotated = await (await operator()).rotateMasterKey({});
      expect(rotated).to.include({ version: 2, primary: true });
      const created = await admin.createSecret({ org: 'acme', secret: { name: 'AFTER_ROTATION' }, value: await sys!.seal('after-rotation') });
      values.set('AFTER_ROTATION', 'after-rotation');
      expect((await sys!.db('secret-store')('secrets').where({ uid: created.uid }).first()).kek_version).to.equal(2);
      await expectAllDecrypt(sys!, values);
    });

    it('rewraps every key under version 2 and retires version 1; every value still opens, also after a restart', async () => {
      const progress = [];
      for await (const p of sys!.secrets(await sys!.token('operator')).rewrapSecrets({ batchSize: 50 })) progress.push(p);
      expect(progress.at(-1)).to.include({ done: true, dataKeysRewrapped: 120, kekVersion: 2 });
      const retired = await (await operator()).retireMasterKey({ version: 1 });
      expect(retired.state).to.equal(MasterKey_State.STATE_DESTROYED);
      await expectAllDecrypt(sys!, values);
      await sys!.restart();
      await expectAllDecrypt(sys!, values);
      const { events } = await sys!.secrets(await sys!.token('operator')).listAuditEvents({ org: '_platform' });
      expect(events.filter((e) => e.action.startsWith('master_key.') && e.action !== 'master_key.rewrapped').map((e) => [e.action, e.details.version])).to.deep.equal([
        ['master_key.rotated', '2'],
        ['master_key.retired', '1'],
      ]);
    });

    it('leaves the token holding version 2 alone once the server stopped (version 1 destroyed in it)', async () => {
      await sys!.stop();
      sys = undefined;
      const provider = await openPkcs11Provider({ modulePath: token.modulePath, tokenLabel: token.label, pin: token.pin });
      try {
        expect(provider.versions()).to.deep.equal([2]);
      } finally {
        await provider.close();
      }
    });
  });
}

describe('vessl-secrets up with the HSM provider (sqlite, a server process)', function () {
  let token: SoftHsmToken;
  let other: SoftHsmToken;
  let dataDir: string;
  let copy: string;
  let hsmEnv: NodeJS.ProcessEnv;
  let pinDir: string;
  before(() => {
    token = createSoftHsmToken('vessl-up', '97531');
    other = createSoftHsmToken('vessl-up', '97531');
    dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-hsm-data-'));
    copy = mkdtempSync(path.join(tmpdir(), 'vessl-hsm-copy-'));
    pinDir = mkdtempSync(path.join(tmpdir(), 'vessl-hsm-pin-'));
    const pinFile = path.join(pinDir, 'pin');
    writeFileSync(pinFile, `${token.pin}\n`, { mode: 0o600 });
    hsmEnv = {
      VESSL_DATA_DIR: dataDir,
      VESSL_MASTER_KEY_PROVIDER: 'pkcs11',
      VESSL_PKCS11_MODULE: token.modulePath,
      VESSL_PKCS11_TOKEN_LABEL: token.label,
      VESSL_PKCS11_PIN_FILE: pinFile,
      SOFTHSM2_CONF: token.conf,
    };
  });
  after(() => {
    token?.remove();
    other?.remove();
    for (const d of [dataDir, copy, pinDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('is chosen by configuration (PIN from a file) and says where the master keys are', async () => {
    const server = await startServerProcess(hsmEnv);
    expect(server.stdout()).to.include(`master keys: HSM token "${token.label}"`);
    expect(await server.stop()).to.equal(0);
    expect(readdirSync(dataDir)).to.not.include('master-keyring.json');
  });

  it('leaves a copy of the data dir unable to open anything: no keyring in it, and another token is refused', async () => {
    cpSync(dataDir, copy, { recursive: true });
    const withFileKeyring = await refusedStart({ VESSL_DATA_DIR: copy });
    expect(withFileKeyring).to.match(/master keyring .* not found, but the database holds keys wrapped by master key version\(s\) 1/);
    expect(readdirSync(copy)).to.not.include('master-keyring.json');
    // A token with the same label and PIN (an attacker's own HSM) holds none of the keys.
    const withOtherToken = await refusedStart({ ...hsmEnv, VESSL_DATA_DIR: copy, SOFTHSM2_CONF: other.conf });
    expect(withOtherToken).to.match(/HSM token "vessl-up" holds no master key, but the database holds keys wrapped by master key version\(s\) 1/);
    expect(withOtherToken.trim().split('\n')).to.have.length(1);
  });

  const refusals: { what: string; env: () => NodeJS.ProcessEnv; says: RegExp }[] = [
    { what: 'a wrong PIN', env: () => ({ ...hsmEnv, VESSL_PKCS11_PIN_FILE: undefined, VESSL_PKCS11_PIN: '11111' }), says: /cannot log in to the token: CKR_PIN_INCORRECT/ },
    { what: 'no PIN at all', env: () => ({ ...hsmEnv, VESSL_PKCS11_PIN_FILE: undefined }), says: /set exactly one of VESSL_PKCS11_PIN_FILE and VESSL_PKCS11_PIN/ },
    { what: 'an unknown token label', env: () => ({ ...hsmEnv, VESSL_PKCS11_TOKEN_LABEL: 'no-such-token' }), says: /no token labelled "no-such-token"/ },
    { what: 'no module', env: () => ({ ...hsmEnv, VESSL_PKCS11_MODULE: undefined }), says: /needs VESSL_PKCS11_MODULE/ },
    { what: 'an unknown provider', env: () => ({ ...hsmEnv, VESSL_MASTER_KEY_PROVIDER: 'vault' }), says: /VESSL_MASTER_KEY_PROVIDER must be "file" or "pkcs11", not "vault"/ },
  ];
  for (const r of refusals) {
    it(`refuses to start with ${r.what}, in one line`, async () => {
      const env = Object.fromEntries(Object.entries(r.env()).filter(([, v]) => v !== undefined));
      // An unset variable must not be inherited from this process either.
      for (const name of ['VESSL_PKCS11_PIN_FILE', 'VESSL_PKCS11_PIN', 'VESSL_PKCS11_MODULE']) if (!(name in env)) env[name] = '';
      const stderr = await refusedStart(env);
      expect(stderr).to.match(r.says);
      expect(stderr.trim().split('\n')).to.have.length(1);
    });
  }

  it('starts again on the right token, over the same data', async () => {
    const server = await startServerProcess(hsmEnv);
    expect(await server.stop()).to.equal(0);
  });
});
