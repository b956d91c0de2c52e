import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import sodium from 'libsodium-wrappers';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import type { Role } from '../services/runtime/auth.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { peerHealthCheck } from '../services/runtime/peer-health.js';
import { valuesAsLaunched } from './support/launch.js';
import { engines, POSTGRES_ENABLED } from './support/postgres.js';
import { startPrivatePostgres, type PrivatePostgres } from './support/private-postgres.js';
import { freePort, serviceMain, startServerProcess, startServingProcess, type ServerProcess } from './support/processes.js';
import { issuerTokens, sealUnder } from './support/identity.js';
import { describeFailure, failure } from './support/system.js';
import { until } from './support/until.js';

/** SERVING or why not, as a load balancer's probe would see it. */
async function healthOf(endpoint: string): Promise<string> {
  const probe = peerHealthCheck({ name: 'server', endpoint });
  try {
    await probe.check();
    return 'SERVING';
  } catch (err) {
    return (err as Error).message;
  } finally {
    probe.close();
  }
}

const tokens = (dataDir: string) => issuerTokens(dataDir, 'acme', 'fault');

for (const engine of engines()) {
  describe(`key-management down (${engine.name})`, function () {
    this.timeout(90_000);
    let dataDir: string;
    let url: string | undefined;
    let kmsEndpoint: string;
    let kms: ServerProcess;
    let store: ServerProcess;
    let db: Knex;
    let token: (role: Role) => Promise<string>;
    before(async () => {
      await sodium.ready;
      dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-faults-'));
      url = await engine.freshUrl();
      kmsEndpoint = `127.0.0.1:${await freePort()}`;
      const env = { VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: url ?? '', VESSL_LOG_LEVEL: 'warn' };
      kms = await startServingProcess(serviceMain('key-management'), ['--listen', kmsEndpoint, '--secret-store-endpoint', '127.0.0.1:1'], env);
      store = await startServingProcess(serviceMain('secret-store'), ['--listen', '127.0.0.1:0', '--kms-endpoint', kmsEndpoint], env);
      token = await tokens(dataDir);
      db = url
        ? knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } })
        : knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(dataDir, 'secret-store.sqlite') }, useNullAsDefault: true });
    });
    after(async () => {
      await db?.destroy();
      await Promise.all([kms, store].map((p) => p?.stop()));
      await engine.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const counts = async () => ({
      secrets: Number((await db('secrets').count({ n: '*' }).first())?.n),
      audit: Number((await db('secret_audit_events').count({ n: '*' }).first())?.n),
    });

    it('fails creates and rotations with UNAVAILABLE within the deadline, writes nothing, and recovers when it is back', async () => {
      const admin = await token('admin');
      const secrets = createServiceClient(SecretServiceService, store.endpoint, { token: async () => admin, defaultTimeoutMs: 15_000 });
      const keys = createServiceClient(KeyManagementServiceService, kmsEndpoint, { token: async () => admin });
      try {
        const key = await keys.getOrgPublicKey({ org: 'acme' });
        const seal = (value: string) => sealUnder(key, value);
        await secrets.createSecret({ org: 'acme', secret: { name: 'before', key: 'BEFORE' }, value: seal('before-value') });
        await until('the secret store to serve', async () => ((await healthOf(store.endpoint)) === 'SERVING' ? true : undefined));
        await kms.stop('SIGKILL');
        const written = await counts();

        const attempts: [string, () => Promise<unknown>][] = [
          ['create', () => secrets.createSecret({ org: 'acme', secret: { name: 'during', key: 'DURING' }, value: seal('during-value') })],
          ['batch create', () => secrets.batchCreateSecrets({ org: 'acme', requests: [{ secret: { name: 'during-batch', key: 'DB' }, value: seal('batch-value') }] })],
          ['rotate', () => secrets.updateSecret({ org: 'acme', secret: { name: 'before' }, value: seal('rotated-value'), updateMask: ['value'] })],
        ];
        for (const [what, call] of attempts) {
          const started = Date.now();
          const failed = await failure(call());
          expect(failed.code, what).to.equal('UNAVAILABLE');
          expect(failed.message, what).to.match(/key-management is unavailable; nothing was written/);
          expect(Date.now() - started, what).to.be.lessThan(12_000);
        }
        expect(await counts()).to.deep.equal(written);
        await until('the secret store to report NOT_SERVING', async () => ((await healthOf(store.endpoint)).includes('NOT_SERVING') ? true : undefined), 15_000);

        kms = await startServingProcess(serviceMain('key-management'), ['--listen', kmsEndpoint, '--secret-store-endpoint', '127.0.0.1:1'], {
          VESSL_DATA_DIR: dataDir,
          VESSL_DATABASE_URL: url ?? '',
          VESSL_LOG_LEVEL: 'warn',
        });
        await until('the secret store to serve again', async () => ((await healthOf(store.endpoint)) === 'SERVING' ? true : undefined), 15_000);
        // No restart of the secret store, no operator action: its channel reconnects.
        await until('a create to succeed again', () => secrets.createSecret({ org: 'acme', secret: { name: 'during', key: 'DURING' }, value: seal('during-value') }).then(() => true, () => undefined), 15_000);
        const values = await valuesAsLaunched({ secretStore: store.endpoint, kms: kmsEndpoint }, await token('service'), 'acme', ['before', 'during']);
        expect(values.map(String)).to.deep.equal(['before-value', 'during-value']);
      } finally {
        secrets.close();
        keys.close();
      }
    });
  });
}

(POSTGRES_ENABLED ? describe : describe.skip)('PostgreSQL restarted under load', function () {
  this.timeout(180_000);
  let pg: PrivatePostgres;
  let dataDir: string;
  let server: ServerProcess;
  before(async () => {
    await sodium.ready;
    pg = await startPrivatePostgres();
    dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-pg-restart-'));
    server = await startServerProcess({ VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: pg.url, VESSL_LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await server?.stop();
    await pg?.remove();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers UNAVAILABLE and NOT_SERVING while it is down, then recovers by itself; every acknowledged write is intact', async () => {
    const token = await tokens(dataDir);
    const admin = await token('admin');
    const secrets = createServiceClient(SecretServiceService, server.endpoint, { token: async () => admin, defaultTimeoutMs: 15_000 });
    const keys = createServiceClient(KeyManagementServiceService, server.endpoint, { token: async () => admin });
    const key = await keys.getOrgPublicKey({ org: 'acme' });
    const acknowledged = new Map<string, string>();
    const failures = new Map<string, number>();
    let running = true;
    let sequence = 0;
    const worker = async () => {
      while (running) {
        const name = `load-${sequence++}`;
        const value = `value-of-${name}`;
        try {
          await secrets.createSecret({ org: 'acme', secret: { name, key: 'LOAD' }, value: sealUnder(key, value) });
          acknowledged.set(name, value);
        } catch (err) {
          const { code } = describeFailure(err);
          failures.set(code, (failures.get(code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    try {
      await until('some writes before the outage', async () => (acknowledged.size >= 30 ? true : undefined));
      await pg.shutDown();
      const beforeOutage = acknowledged.size;
      await until('the server to report NOT_SERVING', async () => ((await healthOf(server.endpoint)).includes('NOT_SERVING') ? true : undefined), 20_000);
      await pg.start();
      await until('the server to serve again', async () => ((await healthOf(server.endpoint)) === 'SERVING' ? true : undefined), 30_000);
      await until('writes to succeed again', async () => (acknowledged.size >= beforeOutage + 30 ? true : undefined), 30_000);
    } finally {
      running = false;
      await Promise.all(workers);
    }
    secrets.close();
    keys.close();
    // Only "retry later" errors, never INTERNAL; and calls did fail while it was down.
    expect([...failures.keys()]).to.deep.equal(['UNAVAILABLE']);
    const names = [...acknowledged.keys()];
    const values = await valuesAsLaunched(server.endpoint, await token('service'), 'acme', names);
    expect(values.map(String)).to.deep.equal(names.map((n) => acknowledged.get(n)));
  });
});
