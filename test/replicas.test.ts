import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { Job_State } from '../services/gen/vessl/jobs/v1/jobs.js';
import { JobServiceService } from '../services/gen/vessl/jobs/v1/jobs.js';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import type { Role } from '../services/runtime/auth.js';
import { createServiceClient, type ServiceClient } from '../services/runtime/grpc-client.js';
import { FakeKubeApi } from './support/fake-kube-api.js';
import { valuesAsLaunched } from './support/launch.js';
import { createTestDatabase, POSTGRES_ENABLED, type TestDatabase } from './support/postgres.js';
import { freePort, serviceMain, startServingProcess, type ServerProcess } from './support/processes.js';
import { issuerTokens, sealUnder } from './support/identity.js';
import { describeFailure } from './support/system.js';
import { until } from './support/until.js';

interface Replica {
  kms: string;
  secretStore: string;
  jobs: string;
}

/**
 * Two replicas of each service as separate processes on one PostgreSQL database, sharing
 * the keyring file and the token issuer (as pods share a mounted Secret), with the
 * Kubernetes job backend against one fake API server.
 */
(POSTGRES_ENABLED ? describe : describe.skip)('two replicas of every service on one PostgreSQL database', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let dataDir: string;
  let fake: FakeKubeApi;
  const procs: ServerProcess[] = [];
  const replicas: Replica[] = [];
  const clients: { close(): void }[] = [];
  let token: (role: Role, subject?: string) => Promise<string>;

  const client = <D extends typeof SecretServiceService | typeof KeyManagementServiceService | typeof JobServiceService>(definition: D, endpoint: string, t: string): ServiceClient<D> => {
    const c = createServiceClient(definition, endpoint, { token: async () => t, defaultTimeoutMs: 60_000 });
    clients.push(c);
    return c;
  };

  before(async () => {
    await sodium.ready;
    db = await createTestDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-replicas-'));
    fake = await FakeKubeApi.start();
    const kubeconfig = path.join(dataDir, 'kubeconfig.json');
    writeFileSync(kubeconfig, fake.kubeConfig().exportConfig());
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    for (let i = 0; i < 2; i++) replicas.push({ kms: `127.0.0.1:${ports[3 * i]}`, secretStore: `127.0.0.1:${ports[3 * i + 1]}`, jobs: `127.0.0.1:${ports[3 * i + 2]}` });
    const env = { VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: db.url, VESSL_LOG_LEVEL: 'warn', KUBECONFIG: kubeconfig };
    // The first key-management replica creates the keyring and the issuer; the rest share them.
    for (const r of replicas) procs.push(await startServingProcess(serviceMain('key-management'), ['--listen', r.kms, '--secret-store-endpoint', r.secretStore], env));
    for (const r of replicas) procs.push(await startServingProcess(serviceMain('secret-store'), ['--listen', r.secretStore, '--kms-endpoint', r.kms], env));
    for (const r of replicas) {
      procs.push(
        await startServingProcess(serviceMain('job-launcher'), ['--listen', r.jobs, '--secret-store-endpoint', r.secretStore, '--kms-endpoint', r.kms, '--job-backend', 'kubernetes'], env),
      );
    }
    token = await issuerTokens(dataDir, 'acme', 'replica-test');
  });

  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.stop()));
    await fake?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function seal(replica: Replica, value: string) {
    const key = await client(KeyManagementServiceService, replica.kms, await token('admin')).getOrgPublicKey({ org: 'acme' });
    return sealUnder(key, value);
  }

  it('agrees on one org key when both key-management replicas see a new org at once', async () => {
    const admin = await token('admin');
    const keys = await Promise.all(replicas.flatMap((r) => [0, 1, 2].map(() => client(KeyManagementServiceService, r.kms, admin).getOrgPublicKey({ org: 'acme' }))));
    expect(new Set(keys.map((k) => k.keyId)).size).to.equal(1);
  });

  it('lets exactly one of many same-name creates spread over both replicas win', async () => {
    const admin = await token('admin');
    const attempts = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const replica = replicas[i % 2];
        try {
          await client(SecretServiceService, replica.secretStore, admin).createSecret({ org: 'acme', secret: { name: 'RACED', key: 'RACED' }, value: await seal(replica, `raced-value-${i}`) });
          return `won:${i}`;
        } catch (err) {
          return describeFailure(err).code;
        }
      }),
    );
    expect(attempts.filter((a) => a.startsWith('won:'))).to.have.length(1);
    expect(attempts.filter((a) => a === 'ALREADY_EXISTS')).to.have.length(11);
    for (const r of replicas) {
      const { secrets } = await client(SecretServiceService, r.secretStore, admin).listSecrets({ org: 'acme' });
      expect(secrets.filter((s) => s.name === 'RACED')).to.have.length(1);
    }
    const winner = Number(attempts.find((a) => a.startsWith('won:'))!.slice(4));
    const [value] = await valuesAsLaunched(replicas[1], await token('service', 'svc:job-launcher'), 'acme', ['RACED']);
    expect(value.toString()).to.equal(`raced-value-${winner}`);
  });

  it('runs a rewrap from both replicas at once after a rotation on one: every value survives, all on the new primary', async () => {
    const admin = await token('admin');
    const expected = new Map<string, string>();
    for (let batch = 0; batch < 4; batch++) {
      const replica = replicas[batch % 2];
      const requests = [];
      for (let i = 0; i < 100; i++) {
        const name = `bulk-${batch}-${i}`;
        expected.set(name, `bulk-value-${batch}-${i}`);
        requests.push({ secret: { name, key: 'BULK' }, value: await seal(replica, expected.get(name)!) });
      }
      await client(SecretServiceService, replica.secretStore, admin).batchCreateSecrets({ org: 'acme', requests });
    }
    const operator = await token('operator');
    const rotated = await client(KeyManagementServiceService, replicas[0].kms, operator).rotateMasterKey({});
    // The other replica learns of the new primary (through the shared keyring and database) before wrapping anything else.
    const runs = replicas.map(async (r) => {
      let last;
      for await (const progress of client(SecretServiceService, r.secretStore, operator).rewrapSecrets({ batchSize: 50 })) last = progress;
      return last!;
    });
    const results = await Promise.all(runs);
    for (const last of results) expect(last).to.include({ done: true, kekVersion: rotated.version });
    expect(results.reduce((n, r) => n + r.dataKeysRewrapped, 0)).to.equal(expected.size + 1); // + RACED
    for (const r of replicas) {
      const keys = (await client(KeyManagementServiceService, r.kms, operator).listMasterKeys({})).keys;
      expect(keys.find((k) => k.version === 1)).to.include({ wrappedDataKeys: 0, wrappedOrgKeys: 0, primary: false });
      expect(keys.find((k) => k.version === rotated.version)).to.include({ primary: true });
    }
    // New writes through the replica that did not rotate are wrapped by the new primary too.
    await client(SecretServiceService, replicas[1].secretStore, admin).createSecret({ org: 'acme', secret: { name: 'after-rotation', key: 'AFTER' }, value: await seal(replicas[1], 'after-value') });
    expect((await client(KeyManagementServiceService, replicas[1].kms, operator).listMasterKeys({})).keys.find((k) => k.version === 1)).to.include({ wrappedDataKeys: 0 });
    // Retiring the old version through the other replica, then reading everything through both.
    await client(KeyManagementServiceService, replicas[1].kms, operator).retireMasterKey({ version: 1 });
    const names = [...expected.keys()];
    for (const r of replicas) {
      const values = await valuesAsLaunched(r, await token('service', 'svc:job-launcher'), 'acme', names);
      expect(values.map(String)).to.deep.equal(names.map((n) => expected.get(n)));
    }
  });

  it('restarts a job through the other replica than the one that launched it', async () => {
    const member = await token('member');
    const launcherA = client(JobServiceService, replicas[0].jobs, member);
    const launcherB = client(JobServiceService, replicas[1].jobs, member);
    const { job } = await launcherA.createJob({ org: 'acme', job: { name: 'replicated', image: 'python:3.12', command: 'python train.py', secrets: [{ secretName: 'RACED' }] } });
    const [kubeJob] = fake.all('Job') as { metadata: { name: string } }[];
    fake.startJob('vessl-acme', kubeJob.metadata.name);
    await until('replica B to see the job running', async () => ((await launcherB.getJob({ org: 'acme', id: job!.id })).state === Job_State.STATE_RUNNING ? true : undefined));
    const restarted = await launcherB.restartJob({ org: 'acme', id: job!.id });
    expect(restarted.job!.attempts.map((a) => a.number)).to.deep.equal([1, 2]);
    const jobsNow = fake.all('Job') as { metadata: { name: string; annotations?: Record<string, string> } }[];
    expect(jobsNow).to.have.length(2);
    // Attempt 1 was stopped through the API server, whichever replica launched it.
    await until('attempt 1 to be cancelled on both replicas', async () => {
      const views = await Promise.all([launcherA, launcherB].map((l) => l.getJob({ org: 'acme', id: job!.id })));
      return views.every((v) => v.attempts[0].state === Job_State.STATE_CANCELLED) ? true : undefined;
    });
    // Cancelling attempt 1 deleted its Secret; attempt 2's holds the value it was launched with.
    const secretsNow = fake.all('Secret') as { data: Record<string, string> }[];
    expect(secretsNow).to.have.length(1);
    expect(Object.keys(secretsNow[0].data)).to.deep.equal(['RACED']);
    const [launchedWith] = await valuesAsLaunched(replicas[0], await token('service'), 'acme', ['RACED']);
    expect(Buffer.from(secretsNow[0].data.RACED, 'base64').toString()).to.equal(launchedWith.toString());
  });
});
