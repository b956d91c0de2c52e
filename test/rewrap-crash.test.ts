import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken } from '../services/runtime/auth.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { engines } from './support/postgres.js';
import { valuesAsLaunched } from './support/launch.js';
import { startServerProcess, type ServerProcess } from './support/processes.js';

const COUNT = 3000;

for (const engine of engines()) {
  describe(`a rewrap killed midway (SIGKILL) finishes on a second run, losing nothing (${engine.name})`, function () {
    let dataDir: string;
    let env: NodeJS.ProcessEnv;
    let server: ServerProcess | undefined;
    before(async () => {
      await sodium.ready;
      dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-crash-'));
      env = { VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: (await engine.freshUrl()) ?? '', VESSL_LOG_LEVEL: 'warn' };
    });
    after(async () => {
      await server?.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      await engine.cleanup();
    });

    const mintFor = async (role: 'admin' | 'operator' | 'service') => {
      const issuer = await loadIssuerKeys(dataDir, false);
      return mintToken(issuer.privateKey, {
        role,
        org: role === 'service' ? '' : 'default',
        subject: role === 'service' ? 'svc:job-launcher' : `crash-${role}`,
        ttlSeconds: 600,
        settings: EMBEDDED_TOKEN_SETTINGS,
      });
    };
    const clients = async (endpoint: string, role: 'admin' | 'operator') => {
      const token = await mintFor(role);
      const options = { token: async () => token, defaultTimeoutMs: 60_000 };
      return { secrets: createServiceClient(SecretServiceService, endpoint, options), kms: createServiceClient(KeyManagementServiceService, endpoint, options) };
    };

    it('seeds, rotates, is killed during the rewrap, restarts and finishes', async () => {
      server = await startServerProcess(env);
      const admin = await clients(server.endpoint, 'admin');
      const key = await admin.kms.getOrgPublicKey({ org: 'default' });
      const values = new Map<string, string>();
      for (let start = 0; start < COUNT; start += 500) {
        const requests = [];
        for (let i = start; i < start + 500; i++) {
          const name = `crash-${i}`;
          values.set(name, `crash-value-${i}-${i * 31}`);
          requests.push({ secret: { name, key: 'CRASH' }, value: { sealedBox: Buffer.from(sodium.crypto_box_seal(Buffer.from(values.get(name)!), key.publicKey)), keyId: key.keyId } });
        }
        await admin.secrets.batchCreateSecrets({ org: 'default', requests });
      }
      const operator = await clients(server.endpoint, 'operator');
      await operator.kms.rotateMasterKey({});

      // Kill the server once a few batches are through.
      let seen = 0;
      let killedAt = 0;
      try {
        for await (const p of operator.secrets.rewrapSecrets({ batchSize: 50 })) {
          if (p.dataKeysRewrapped > 0 && ++seen === 3) {
            killedAt = p.dataKeysRewrapped;
            await server.stop('SIGKILL');
          }
        }
      } catch (err) {
        expect((err as { code?: number }).code).to.equal(14); // UNAVAILABLE: the server is gone
      }
      expect(killedAt).to.be.greaterThan(0).and.lessThan(COUNT);

      server = await startServerProcess(env);
      const after = await clients(server.endpoint, 'operator');
      const before = (await after.kms.listMasterKeys({})).keys.find((k) => k.version === 1)!;
      expect(before.wrappedDataKeys, 'the killed run left work').to.be.greaterThan(0).and.lessThan(COUNT);
      let last;
      for await (const p of after.secrets.rewrapSecrets({ batchSize: 500 })) last = p;
      expect(last).to.include({ done: true, dataKeysRewrapped: before.wrappedDataKeys });
      expect((await after.kms.listMasterKeys({})).keys.find((k) => k.version === 1)).to.include({ wrappedDataKeys: 0, wrappedOrgKeys: 0 });

      const names = [...values.keys()];
      const plain = await valuesAsLaunched(server.endpoint, await mintFor('service'), 'default', names);
      expect(plain.map(String)).to.deep.equal(names.map((n) => values.get(n)));
      expect(JSON.parse(readFileSync(path.join(dataDir, 'master-keyring.json'), 'utf8')).primary).to.equal(2);
      expect((await after.kms.retireMasterKey({ version: 1 })).version).to.equal(1);
    });
  });
}
