import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { CLI_BIN, ROOT, startServerProcess, type ServerProcess } from './support/processes.js';

/** The ```sh blocks of the README's "## Tour" section (its ### parts too), in order, as one script. */
function tourScript(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Tour');
  const end = readme.indexOf('\n## ', start + 1);
  const blocks = [...readme.slice(start, end < 0 ? undefined : end).matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]);
  if (blocks.length === 0) throw new Error('README has no sh block under "## Tour"');
  return blocks.join('');
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
    // The workspace: a variable and a file; the rotation refreshes the file and leaves the variable stale.
    expect(result.out).to.match(/^dev\s+running\s+\S+\s+HF_TOKEN,gcp-sa-key\s+\d+[smhd]$/m);
    expect(result.out).to.match(/^token: 28 characters$/m);
    expect(result.out).to.match(/^-r-------- .* gcp\.json$/m);
    expect(result.out).to.include('in the shell: ***\n');
    expect(result.out).to.match(/file \/run\/secrets\/gcp\.json ← gcp-sa-key v2, refreshed at \S+/);
    expect(result.out).to.include('env HUGGING_FACE_HUB_TOKEN ← HF_TOKEN v3 (stale: restart to refresh; current v4)');
    expect(result.out).to.match(/workspace dev \(w_[0-9a-f]{16}\) run 1 as HUGGING_FACE_HUB_TOKEN v3 — stale: rotated to v4/);
    expect(result.out).to.include('Deleted workspace dev in org default.');
    for (const value of ['hf_tour_example_token', 'hf_tour_rotated_token', 'hf_tour_rotated_again_longer', 'hf_tour_rotated_for_workspace', 'tour-example-key', 'tour-rotated-key']) {
      expect(result.out + result.err).to.not.include(value);
    }
  });
});
