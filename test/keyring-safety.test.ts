import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { engines } from './support/postgres.js';
import { refusedStart, startServerProcess } from './support/processes.js';

for (const engine of engines()) {
  describe(`key-management startup safety (${engine.name})`, function () {
    let dataDir: string;
    let env: NodeJS.ProcessEnv;
    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-keyring-'));
      env = { VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: (await engine.freshUrl()) ?? '' };
    });
    after(async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await engine.cleanup();
    });

    it('creates the keyring (0600) on a first start over an empty database', async () => {
      const server = await startServerProcess(env);
      expect(await server.stop()).to.equal(0);
      const file = path.join(dataDir, 'master-keyring.json');
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8')).keys).to.have.length(1);
    });

    it('refuses to start when the keyring is missing over existing data, and generates none', async () => {
      const file = path.join(dataDir, 'master-keyring.json');
      const saved = readFileSync(file);
      rmSync(file);
      const stderr = await refusedStart(env);
      expect(stderr).to.match(/master keyring .* not found, but the database holds keys wrapped by master key version\(s\) 1/);
      expect(stderr).to.include('Restore the keyring file');
      expect(stderr.trim().split('\n')).to.have.length(1);
      expect(() => statSync(file)).to.throw();
      writeFileSync(file, saved, { mode: 0o600 });
    });

    it('refuses to start with a keyring whose version 1 holds another key', async () => {
      const file = path.join(dataDir, 'master-keyring.json');
      const saved = readFileSync(file, 'utf8');
      const other = JSON.parse(saved);
      other.keys[0].key = Buffer.alloc(32, 7).toString('base64');
      writeFileSync(file, JSON.stringify(other), { mode: 0o600 });
      expect(await refusedStart(env)).to.include('version 1 holds a different key');
      writeFileSync(file, saved, { mode: 0o600 });
    });

    it('starts again with the right keyring', async () => {
      const server = await startServerProcess(env);
      expect(await server.stop()).to.equal(0);
    });
  });
}
