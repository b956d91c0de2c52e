import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken } from '../services/runtime/auth.js';
import { parseCommonConfig } from '../services/runtime/config.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { createLogger } from '../services/runtime/logger.js';
import { masterKeysOf } from '../services/key-management/app.js';
import { startAllInOne } from '../services/server/all-in-one.js';
import { failure } from './support/system.js';
import { CLI_BIN, run } from './support/processes.js';

/** A CA and a server certificate for 127.0.0.1/localhost, made with openssl for this run. */
function makeCertificates(dir: string) {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', '/CN=vessl test CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(file('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.crt'), '-days', '1', '-extfile', file('ext.cnf'));
  return { ca: file('ca.crt'), cert: file('server.crt'), key: file('server.key') };
}

describe('TLS between the CLI, the clients and the services', function () {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-tls-'));
    certs = makeCertificates(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function withServer(flags: Record<string, string>, body: (endpoint: string, dataDir: string) => Promise<void>) {
    const dataDir = mkdtempSync(path.join(dir, 'data-'));
    const config = parseCommonConfig({ 'data-dir': dataDir, ...flags }, {});
    const log = createLogger('tls-test', { write: () => true } as never);
    const running = await startAllInOne(config, { listen: '127.0.0.1:0', masterKeys: masterKeysOf(config), jobs: { backend: 'local', namespaceTemplate: 'vessl-{org}' }, log });
    try {
      await body(running.endpoint, dataDir);
    } finally {
      await running.stop();
    }
  }

  async function createOverTls(endpoint: string, dataDir: string, clientCert?: { cert: string; key: string }) {
    await sodium.ready;
    const issuer = await loadIssuerKeys(dataDir, false);
    const token = await mintToken(issuer.privateKey, { subject: 'ada', org: 'acme', role: 'admin', ttlSeconds: 60, settings: EMBEDDED_TOKEN_SETTINGS });
    const creds = credentials.createSsl(readFileSync(certs.ca), clientCert ? readFileSync(clientCert.key) : null, clientCert ? readFileSync(clientCert.cert) : null);
    const opts = { token: async () => token, credentials: creds };
    const kms = createServiceClient(KeyManagementServiceService, endpoint, opts);
    const secrets = createServiceClient(SecretServiceService, endpoint, opts);
    try {
      const key = await kms.getOrgPublicKey({ org: 'acme' });
      const sealedBox = Buffer.from(sodium.crypto_box_seal(Buffer.from('over-tls'), key.publicKey));
      // CreateSecret makes secret-store call key-management over the same TLS port.
      return await secrets.createSecret({ org: 'acme', secret: { name: 'TLS_SECRET' }, value: { sealedBox, keyId: key.keyId } });
    } finally {
      kms.close();
      secrets.close();
    }
  }

  it('serves TLS and the services reach each other over it', async () => {
    await withServer({ 'tls-cert-file': certs.cert, 'tls-key-file': certs.key, 'tls-ca-file': certs.ca }, async (endpoint, dataDir) => {
      expect(await createOverTls(endpoint, dataDir)).to.include({ name: 'TLS_SECRET', version: 1 });
    });
  });

  it('requires client certificates when configured, and the services present theirs to each other', async () => {
    const flags = { 'tls-cert-file': certs.cert, 'tls-key-file': certs.key, 'tls-ca-file': certs.ca, 'tls-client-ca-file': certs.ca };
    await withServer(flags, async (endpoint, dataDir) => {
      expect(await createOverTls(endpoint, dataDir, { cert: certs.cert, key: certs.key })).to.include({ version: 1 });
      expect((await failure(createOverTls(endpoint, dataDir))).code).to.equal('UNAVAILABLE');
    });
  });

  describe('vesslctl --ca-cert', function () {
    let endpoint: string;
    let token: string;
    let stopServer: () => void;
    let home: string;
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      run(CLI_BIN, ['secret', 'list', '--endpoint', endpoint, ...args], { env: { PATH: process.env.PATH, HOME: home, VESSLCTL_CONFIG_DIR: path.join(home, 'config'), VESSLCTL_ACCESS_TOKEN: token, ...env } });
    before(async () => {
      home = mkdtempSync(path.join(dir, 'home-'));
      const started = new Promise<void>((resolve) => {
        const serving = withServer({ 'tls-cert-file': certs.cert, 'tls-key-file': certs.key, 'tls-ca-file': certs.ca }, async (e, dataDir) => {
          endpoint = e.replace('127.0.0.1', 'localhost');
          const issuer = await loadIssuerKeys(dataDir, false);
          token = await mintToken(issuer.privateKey, { subject: 'ada', org: 'acme', role: 'admin', ttlSeconds: 600, settings: EMBEDDED_TOKEN_SETTINGS });
          await createOverTls(e, dataDir);
          resolve();
          await new Promise<void>((stop) => (stopServer = stop));
        });
        void serving;
      });
      await started;
      writeFileSync(path.join(dir, 'not-a-cert.pem'), 'hello\n');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'other.key'), '-out', path.join(dir, 'other-ca.crt'), '-days', '1', '-subj', '/CN=some other CA'], { stdio: 'pipe' });
    });
    after(() => stopServer?.());

    it('lists secrets over TLS when it trusts the server\'s CA, from the flag or the environment', async () => {
      for (const [args, env] of [[['--ca-cert', certs.ca], {}], [[], { VESSLCTL_CA_CERT: certs.ca }]] as [string[], NodeJS.ProcessEnv][]) {
        const result = await cli([...args, '-o', 'json'], env);
        expect(result.code, result.stderr).to.equal(0);
        expect((JSON.parse(result.stdout) as { name: string }[]).map((x) => x.name)).to.deep.equal(['TLS_SECRET']);
      }
    });

    // The exit status: 5 when the server cannot be reached, 2 for a bad command line (cli/exit-codes.ts).
    const refusals: [string, () => string[], RegExp, number][] = [
      ['no CA: plaintext to a TLS server', () => [], /cannot reach .*the server speaks TLS, and vesslctl spoke plaintext/, 5],
      ['a CA that did not sign the server\'s certificate', () => ['--ca-cert', path.join(dir, 'other-ca.crt')], /cannot reach .*certificate is not trusted: pass --ca-cert/, 5],
      ['a CA file that does not exist', () => ['--ca-cert', path.join(dir, 'missing.pem')], /cannot read the CA certificate .*missing\.pem \(ENOENT\)/, 2],
      ['a CA file that is not PEM', () => ['--ca-cert', path.join(dir, 'not-a-cert.pem')], /not-a-cert\.pem is not a PEM certificate/, 2],
    ];
    for (const [why, args, message, code] of refusals) {
      it(`fails with one line and exit ${code} on ${why}`, async () => {
        const result = await cli(args());
        expect(result.code, result.stderr).to.equal(code);
        expect(result.stdout).to.equal('');
        expect(result.stderr.trim().split('\n')).to.have.length(1);
        expect(result.stderr).to.match(message);
      });
    }

    it('auth login --ca-cert checks the server with it and saves it for later commands', async () => {
      const env = { PATH: process.env.PATH, HOME: home, VESSLCTL_CONFIG_DIR: path.join(home, 'login-config') };
      const login = await run(CLI_BIN, ['auth', 'login', '--endpoint', endpoint, '--token', token, '--ca-cert', certs.ca], { env });
      expect(login.code, login.stderr).to.equal(0);
      expect(JSON.parse(readFileSync(path.join(home, 'login-config', 'config.json'), 'utf8'))).to.include({ 'ca-cert': certs.ca, endpoint });
      const list = await run(CLI_BIN, ['secret', 'list', '-o', 'json'], { env });
      expect(list.code, list.stderr).to.equal(0);
      expect(list.stdout).to.include('TLS_SECRET');
    });
  });

  it('refuses to serve plaintext on a non-loopback address', async () => {
    const config = parseCommonConfig({ 'data-dir': mkdtempSync(path.join(dir, 'data-')) }, {});
    const log = createLogger('tls-test', { write: () => true } as never);
    let error: Error | undefined;
    try {
      const running = await startAllInOne(config, { listen: '0.0.0.0:0', masterKeys: masterKeysOf(config), jobs: { backend: 'local', namespaceTemplate: 'vessl-{org}' }, log });
      await running.stop();
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.match(/refusing to serve plaintext gRPC on 0\.0\.0\.0:0: only loopback addresses may run without TLS/);
  });
});
