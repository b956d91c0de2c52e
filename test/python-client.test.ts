import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT, startServerProcess, type RunResult, type ServerProcess } from './support/processes.js';

// The Debian interpreter: the python3 first on PATH may be another one that cannot see
// python3-grpcio, python3-protobuf and python3-nacl (scripts/ensure-python-deps.sh).
const PYTHON = '/usr/bin/python3';
const EXAMPLE = path.join(ROOT, 'clients', 'python', 'example.py');
const WORKSPACE_EXAMPLE = path.join(ROOT, 'clients', 'python', 'workspace_example.py');

interface Credentials {
  endpoint: string;
  org: string;
  tokens: { admin: string; member: string; operator: string };
}

/** Runs clients/python/example.py (or another `script`) with a clean environment (no VESSL_* of the developer's). */
function runExample(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; script?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', ...opts.env };
    const child = spawn(PYTHON, [opts.script ?? EXAMPLE, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The same JWT with a signature that does not verify. */
const forged = (token: string) => `${token.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`;

describe('the Python client (clients/python, generated from the same protos)', function () {
  let root: string;
  let dataDir: string;
  let server: ServerProcess;
  let creds: Credentials;

  before(async function () {
    const probe = spawnSync(PYTHON, ['-c', 'import grpc, google.protobuf, nacl'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      throw new Error(`${PYTHON} cannot import grpc, google.protobuf and nacl: run scripts/ensure-python-deps.sh\n${probe.stderr ?? probe.error}`);
    }
    root = mkdtempSync(path.join(tmpdir(), 'vessl-python-'));
    dataDir = path.join(root, 'data');
    server = await startServerProcess({ VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: '' });
    creds = JSON.parse(readFileSync(path.join(dataDir, 'credentials.json'), 'utf8')) as Credentials;
  });

  after(async () => {
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('seals a value, creates a secret, runs a job with it injected and prints the masked log', async () => {
    const value = `py-client-${randomBytes(8).toString('hex')}-value`;
    const result = await runExample(['--credentials', path.join(dataDir, 'credentials.json'), 'PY_CLIENT_SECRET'], { input: value });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/created secret PY_CLIENT_SECRET \(key PY_CLIENT_SECRET, version 1,/);
    expect(result.stdout).to.match(/job j_[0-9a-f]{16}: STATE_SUCCEEDED \(exit code 0\)/);
    // The job saw the real value (its length), and the server masked it in the log.
    expect(result.stdout).to.include(`from python: *** ${value.length}\n`);

    // The plaintext (or its base64) appears nowhere: not in the example's output, not in the server's.
    for (const text of [result.stdout, result.stderr, server.stdout(), server.stderr()]) {
      expect(text).to.not.include(value);
      expect(text).to.not.include(Buffer.from(value).toString('base64'));
    }
  });

  it('reads its settings from VESSL_ENDPOINT, VESSL_ORG and VESSL_TOKEN, and --value', async () => {
    const value = `py-env-${randomBytes(8).toString('hex')}`;
    const env = { VESSL_ENDPOINT: creds.endpoint, VESSL_ORG: creds.org, VESSL_TOKEN: creds.tokens.admin };
    const result = await runExample(['--value', value, '--key', 'ENV_STYLE_KEY', 'py.env-secret'], { env });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/created secret py\.env-secret \(key ENV_STYLE_KEY,/);
    expect(result.stdout).to.include(`from python: *** ${value.length}\n`);
    expect(result.stdout + result.stderr).to.not.include(value);
  });

  it('a token that does not verify: exit 1 with UNAUTHENTICATED on one line', async () => {
    const value = `py-forged-${randomBytes(8).toString('hex')}`;
    const env = { VESSL_ENDPOINT: creds.endpoint, VESSL_ORG: creds.org, VESSL_TOKEN: forged(creds.tokens.admin) };
    const result = await runExample(['PY_FORGED'], { env, input: value });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/^error: UNAUTHENTICATED: \S.*\n$/);
    expect(result.stdout).to.equal('');
    expect(result.stdout + result.stderr).to.not.include(value);
  });

  it('a member token: the public key is readable, but creating a secret is PERMISSION_DENIED', async () => {
    const env = { VESSL_ENDPOINT: creds.endpoint, VESSL_ORG: creds.org, VESSL_TOKEN: creds.tokens.member };
    const result = await runExample(['PY_MEMBER'], { env, input: 'member-value-1234' });
    expect(result.code).to.equal(1);
    expect(result.stdout).to.match(/^org \S+: public key \S+ /);
    expect(result.stderr).to.match(/^error: PERMISSION_DENIED: \S.*\n$/);
    expect(result.stdout).to.not.match(/created secret/);
  });

  it('an invalid secret name: INVALID_ARGUMENT naming the field, nothing created', async () => {
    const env = { VESSL_ENDPOINT: creds.endpoint, VESSL_ORG: creds.org, VESSL_TOKEN: creds.tokens.admin };
    const result = await runExample(['--key', 'SOME_KEY', 'bad name'], { env, input: 'some-value-1234' });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/^error: INVALID_ARGUMENT: secret\.name: .*\n$/);
  });

  it('mounts a secret as a file in a workspace, runs a command on the exec stream (stdin up; masked output and the exit code down), and deletes the workspace', async () => {
    const credentials = ['--credentials', path.join(dataDir, 'credentials.json')];
    for (const name of ['py-ws-file-1', 'py-ws-file-2']) {
      const value = `py-workspace-${randomBytes(8).toString('hex')}`;
      // The second run reuses the workspace name: the first one's delete freed it.
      const result = await runExample([...credentials, name], { input: value, script: WORKSPACE_EXAMPLE });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(new RegExp(`created workspace python-example \\(w_[0-9a-f]{16}\\) with ${name} at /run/secrets/${name}\n`));
      expect(result.stdout).to.include(`file: ${value.length} bytes\n***\nstdin: hello from python\n`);
      expect(result.stdout).to.include('--- exec exit code 3 ---\ndeleted workspace python-example\n');
      expect(result.stderr).to.equal('to stderr\n');
      for (const text of [result.stdout, result.stderr, server.stdout(), server.stderr()]) expect(text).to.not.include(value);
    }
  });
});
