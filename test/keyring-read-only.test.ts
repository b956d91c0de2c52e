import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MasterKey_State } from '../services/gen/vessl/kms/v1/kms.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type TestSystem } from './support/system.js';
import { expectAllDecrypt, seedSecrets } from './support/seed.js';

/**
 * Read-only as a Secret volume is: root ignores mode bits, so as root the folder and the
 * file are made immutable (chattr +i); otherwise their write bits are removed.
 */
function setReadOnly(dir: string, file: string, readOnly: boolean): void {
  if (userInfo().uid === 0) {
    execFileSync('chattr', [readOnly ? '+i' : '-i', file, dir]);
  } else {
    chmodSync(dir, readOnly ? 0o500 : 0o700);
    chmodSync(file, readOnly ? 0o400 : 0o600);
  }
}

for (const engine of engines()) {
  describe(`a read-only master keyring, as mounted from a Kubernetes Secret (${engine.name})`, function () {
    let sys: TestSystem;
    let keyringFile: string;
    let values: Map<string, string>;
    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
      keyringFile = path.join(sys.dataDir, 'master-keyring.json');
      values = await seedSecrets(sys, sys.secrets(await sys.token('admin')), 'ro', 40);
      setReadOnly(sys.dataDir, keyringFile, true);
    });
    after(async () => {
      if (sys) setReadOnly(sys.dataDir, keyringFile, false);
      await sys?.stop();
      await engine.cleanup();
    });

    /** What an operator does to the Secret, here straight to the file. */
    function editKeyring(change: (keyring: { primary: number; keys: { version: number; key: string; createdAt: string }[] }) => void): void {
      setReadOnly(sys.dataDir, keyringFile, false);
      const keyring = JSON.parse(readFileSync(keyringFile, 'utf8'));
      change(keyring);
      writeFileSync(keyringFile, JSON.stringify(keyring));
      setReadOnly(sys.dataDir, keyringFile, true);
    }

    const platformEvents = async () => (await sys.secrets(await sys.token('operator')).listAuditEvents({ org: '_platform' })).events.map((e) => e.action);

    it('refuses rotate with FAILED_PRECONDITION and says what to do, auditing nothing', async () => {
      const before = await platformEvents();
      const refused = await failure(sys.kms(await sys.token('operator')).rotateMasterKey({}));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.match(/master keyring .* is read-only \(a mounted Secret\?\): add version 2 to it there and make it the primary/);
      expect(await platformEvents()).to.deep.equal(before);
    });

    it('picks up a version the operator adds to the file, without a restart, and rewraps onto it', async () => {
      editKeyring((k) => {
        k.keys.push({ version: 2, key: Buffer.alloc(32, 7).toString('base64'), createdAt: new Date().toISOString() });
        k.primary = 2;
      });
      const operator = sys.kms(await sys.token('operator'));
      const keys = (await operator.listMasterKeys({})).keys;
      expect(keys.find((k) => k.version === 2)).to.include({ primary: true, state: MasterKey_State.STATE_ENABLED });
      for await (const _ of sys.secrets(await sys.token('operator')).rewrapSecrets({ batchSize: 10 })) void _;
      expect((await operator.listMasterKeys({})).keys.find((k) => k.version === 1)).to.include({ wrappedDataKeys: 0, wrappedOrgKeys: 0 });
      await expectAllDecrypt(sys, values);
    });

    it('retires the old version in the database (audited) while the operator removes it from the file', async () => {
      const operator = sys.kms(await sys.token('operator'));
      const retired = await operator.retireMasterKey({ version: 1 });
      expect(retired.state).to.equal(MasterKey_State.STATE_DESTROYED);
      expect(JSON.parse(readFileSync(keyringFile, 'utf8')).keys.map((k: { version: number }) => k.version)).to.deep.equal([1, 2]);
      expect((await platformEvents()).filter((a) => a === 'master_key.retired')).to.have.length(1);
      await expectAllDecrypt(sys, values);
      editKeyring((k) => {
        k.keys = k.keys.filter((key) => key.version !== 1);
      });
      expect((await operator.listMasterKeys({})).keys.map((k) => [k.version, k.state])).to.deep.equal([
        [1, MasterKey_State.STATE_DESTROYED],
        [2, MasterKey_State.STATE_ENABLED],
      ]);
      await sys.secrets(await sys.token('admin')).createSecret({ org: 'acme', secret: { name: 'after-retire', key: 'AFTER' }, value: await sys.seal('after-retire-value') });
      await expectAllDecrypt(sys, new Map([...values, ['after-retire', 'after-retire-value']]));
    });
  });
}
