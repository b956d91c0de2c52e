import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken } from '../services/runtime/auth.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { ROOT, startServingProcess, type ServerProcess } from './support/processes.js';
import { until } from './support/until.js';
import { describeFailure } from './support/system.js';
import { peerHealthCheck } from '../services/runtime/peer-health.js';

describe('each service also runs alone, with its own entrypoint and config', function () {
  let dataDir: string;
  const procs: ServerProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('secret-store calls a separate key-management process through its gRPC client', async () => {
    await sodium.ready;
    dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-standalone-'));
    const env = { VESSL_DATA_DIR: dataDir, VESSL_LISTEN: '127.0.0.1:0' };
    const kms = await startServingProcess(path.join(ROOT, 'dist/services/key-management/main.js'), ['--metrics-listen', '127.0.0.1:0', '--health-listen', '127.0.0.1:0'], env);
    procs.push(kms);
    const store = await startServingProcess(path.join(ROOT, 'dist/services/secret-store/main.js'), ['--kms-endpoint', kms.endpoint], env);
    procs.push(store);
    expect(kms.endpoint).to.not.equal(store.endpoint);

    const issuer = await loadIssuerKeys(dataDir, false);
    const token = await mintToken(issuer.privateKey, { subject: 'alice', org: 'acme', role: 'admin', ttlSeconds: 60, settings: EMBEDDED_TOKEN_SETTINGS });
    const kmsClient = createServiceClient(KeyManagementServiceService, kms.endpoint, { token: async () => token });
    const storeClient = createServiceClient(SecretServiceService, store.endpoint, { token: async () => token });
    const key = await kmsClient.getOrgPublicKey({ org: 'acme' });
    const created = await storeClient.createSecret({
      org: 'acme',
      secret: { name: 'HF_TOKEN' },
      value: { sealedBox: Buffer.from(sodium.crypto_box_seal(Buffer.from('hf_x'), key.publicKey)), keyId: key.keyId },
    });
    expect(created).to.include({ name: 'HF_TOKEN', version: 1 });
    // Its Prometheus endpoint counts the call the secret store made to it.
    const metricsUrl = await until('the metrics line', async () => /metrics: (http:\S+)/.exec(kms.stdout())?.[1]);
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).to.match(/vessl_grpc_requests_total\{service="vessl\.kms\.v1\.KeyManagementService",method="EncryptSealedValues",code="OK"\} 1/);
    // The plaintext health-only port (for the kubelet's gRPC probes) answers health and nothing else.
    const healthEndpoint = await until('the health line', async () => /health: (\S+)/.exec(kms.stdout())?.[1]);
    const probe = peerHealthCheck({ name: 'key-management', endpoint: healthEndpoint });
    await probe.check();
    probe.close();
    const viaHealthPort = createServiceClient(KeyManagementServiceService, healthEndpoint, { token: async () => token });
    expect(describeFailure(await viaHealthPort.getOrgPublicKey({ org: 'acme' }).catch((err: unknown) => err)).code).to.equal('UNIMPLEMENTED');
    viaHealthPort.close();
    kmsClient.close();
    storeClient.close();
  });
});
