import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { CLI_BIN, ROOT, startServerProcess, type ServerProcess } from './support/processes.js';

/** The first ```sh block after the "## Tour" heading of the README. */
function tourScript(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const tour = readme.slice(readme.indexOf('\n## Tour'));
  const match = /```sh\n([\s\S]*?)```/.exec(tour);
  if (!match) throw new Error('README has no sh block under "## Tour"');
  return match[1];
}

describe('the README tour works exactly as written', function () {
  let dir: string;
  let server: ServerProcess;
  before(async () => {
    // A folder that looks like a checkout: .vessl/ from `make up`, and vesslctl on PATH (as `make install` puts it).
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-readme-'));
    mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(CLI_BIN, path.join(dir, 'node_modules', '.bin', 'vesslctl'));
    server = await startServerProcess({ VESSL_DATA_DIR: path.join(dir, '.vessl') });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every command of the tour successfully, in order', async () => {
    const script = `set -euo pipefail\n${tourScript()}`;
    const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], {
        cwd: dir,
        env: { PATH: `${path.join(dir, 'node_modules', '.bin')}:${process.env.PATH}`, HOME: path.join(dir, 'home'), VESSLCTL_CONFIG_DIR: path.join(dir, 'config'), npm_config_yes: 'false' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });
    if (process.env.SHOW_TOUR) console.log(result.out, result.err);
    expect(result.code, `${result.out}\n${result.err}`).to.equal(0);
    expect(result.out).to.include('HUGGING_FACE_HUB_TOKEN');
    expect(result.out).to.match(/^wandb\s+WANDB_API_KEY\s+1\s+\S+\s+\S+Z$/m); // listed as deleted, with its delete time
    expect(result.out).to.match(/^HF_TOKEN\s+HUGGING_FACE_HUB_TOKEN\s+2\s/m);
    // The job saw the value (its length), never printed it; the restart got the rotated one.
    expect(result.out).to.include('token: ***, 28 characters');
    expect(result.out).to.match(/used by:\s+j_\w+ \(hello\) attempt 1 .*stale/);
    expect(result.out).to.match(/stale/i);
    for (const value of ['hf_tour_example_token', 'hf_tour_rotated_token', 'hf_tour_rotated_again_longer']) {
      expect(result.out + result.err).to.not.include(value);
    }
  });
});
