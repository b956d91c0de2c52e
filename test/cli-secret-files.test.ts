import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { digestBytes } from './support/chaos.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import type { RunResult } from './support/processes.js';
import { until } from './support/until.js';

/** `vesslctl job create --secret-file PATH=NAME`: what it sends, what `job show` and `secret show` print, and its refusals. */

const PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIClISecretFileTestLine1AAAAAAAAAAAAAAAAAAAAAoAoGCCqGSM49\nAwEHoUQDQgAEcliSecretFileTestLine2BBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n-----END EC PRIVATE KEY-----\n';

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

describe('vesslctl job create --secret-file', function () {
  this.timeout(120_000);
  let world: CliWorld;
  let credentials: string;

  before(async () => {
    world = await startCliWorld({ logLevel: 'warn' });
    credentials = path.join(world.dataDir, 'credentials.json');
    ok(await world.cli(['auth', 'login', '--credentials', credentials]));
    const keyFile = path.join(world.configDir, '..', 'tls.key');
    writeFileSync(keyFile, PEM);
    ok(await world.cli(['secret', 'create', 'tls-key', 'TLS_KEY', '--from-file', keyFile]));
    ok(await world.cli(['secret', 'create', 'HF_TOKEN', '--from-stdin'], { input: 'hf_cli_file_test' }));
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  it('mounts the value byte for byte at PATH, and job show, -o json and secret show say where', async () => {
    const args = ['job', 'create', '-n', 'tls', '-i', 'python:3.12', '--cmd', 'sha256sum < /run/secrets/tls/key.pem; sleep 600'];
    const job = JSON.parse(ok(await world.cli([...args, '--secret-file', '/run/secrets/tls/key.pem=tls-key', '--secret', 'HF_TOKEN', '-o', 'json'])).stdout) as {
      id: string;
      secrets: unknown[];
      attempts: { secrets: { secretName: string; secretUid: string }[] }[];
    };
    try {
      expect(job.secrets).to.deep.equal([
        { secretName: 'HF_TOKEN', envName: '', filePath: '' },
        { secretName: 'tls-key', envName: '', filePath: '/run/secrets/tls/key.pem' },
      ]);
      const { secretUid, ...file } = job.attempts[0].secrets.find((s) => s.secretName === 'tls-key')!;
      expect(secretUid).to.match(/^s_/);
      expect(file).to.deep.equal({ secretName: 'tls-key', envName: '', filePath: '/run/secrets/tls/key.pem', version: 1, currentVersion: 1, stale: false });
      const log = await until('the digest in the log', async () => {
        const out = ok(await world.cli(['job', 'logs', job.id])).stdout;
        return /^[0-9a-f]{64}/.test(out) ? out : undefined;
      });
      expect(log.slice(0, 64)).to.equal(digestBytes(Buffer.from(PEM)));
      const shown = ok(await world.cli(['job', 'show', job.id])).stdout;
      expect(shown).to.include('file /run/secrets/tls/key.pem=tls-key');
      expect(shown).to.include('file /run/secrets/tls/key.pem ← tls-key v1');
      expect(shown).to.include('HF_TOKEN ← HF_TOKEN v1');
      ok(await world.cli(['secret', 'update', 'tls-key', '--from-stdin'], { input: `${PEM}# rotated\n` }));
      expect(ok(await world.cli(['secret', 'show', 'tls-key'])).stdout).to.match(new RegExp(`${job.id} \\(tls\\) attempt 1 as file /run/secrets/tls/key.pem v1 — stale: rotated to v2`));
      expect(ok(await world.cli(['job', 'show', job.id])).stdout).to.include('file /run/secrets/tls/key.pem ← tls-key v1 (stale: now v2; restart the job to use it)');
    } finally {
      ok(await world.cli(['job', 'terminate', job.id]));
    }
    for (const out of world.outputs) expect(out.stdout + out.stderr).to.not.include(PEM.split('\n')[1]);
    expect(readFileSync(path.join(world.dataDir, 'jobs', job.id, 'attempt-1.log'), 'utf8')).to.not.include(PEM.split('\n')[1]);
  });

  const refused: { what: string; flag: string; code: number; stderr: RegExp }[] = [
    { what: 'a value without =', flag: '/run/secrets/key', code: 2, stderr: /--secret-file "\/run\/secrets\/key" must be PATH=NAME/ },
    { what: 'no path', flag: '=tls-key', code: 2, stderr: /must be PATH=NAME/ },
    { what: 'a relative path (the server says why)', flag: 'key.pem=tls-key', code: 2, stderr: /job\.secrets\[0\]\.file_path.*not an absolute path/ },
    { what: 'a path outside the roots', flag: '/etc/key.pem=tls-key', code: 2, stderr: /not under \/run\/secrets\/ or \/home\/job\// },
  ];
  for (const c of refused) {
    it(`refuses ${c.what}, running nothing`, async () => {
      const before = ok(await world.cli(['job', 'list', '-o', 'name'])).stdout;
      const r = await world.cli(['job', 'create', '-n', 'bad', '-i', 'x', '--cmd', 'true', '--secret-file', c.flag]);
      expect(r.code, r.stderr).to.equal(c.code);
      expect(r.stderr).to.match(c.stderr);
      expect(ok(await world.cli(['job', 'list', '-o', 'name'])).stdout).to.equal(before);
    });
  }
});
