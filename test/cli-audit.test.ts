// `vesslctl audit list` for "what just happened": --tail, --since/--until, --follow.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { parseTimeFlag } from '../cli/time-flags.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import { CLI_BIN, type RunResult } from './support/processes.js';

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

describe('audit list times (--since, --until)', () => {
  const now = Date.parse('2026-03-01T12:00:00.000Z');
  const rows: Array<[text: string, iso: string]> = [
    ['30s', '2026-03-01T11:59:30.000Z'],
    ['15m', '2026-03-01T11:45:00.000Z'],
    ['2h', '2026-03-01T10:00:00.000Z'],
    ['7d', '2026-02-22T12:00:00.000Z'],
    ['2026-02-01T08:00:00Z', '2026-02-01T08:00:00.000Z'],
    ['2026-02-01T08:00:00+09:00', '2026-01-31T23:00:00.000Z'],
    ['2026-02-01', '2026-02-01T00:00:00.000Z'],
  ];
  for (const [text, iso] of rows) it(`reads ${text} as ${iso}`, () => expect(parseTimeFlag('since', text, now).toISOString()).to.equal(iso));
  for (const text of ['yesterday', '1w', '2026-13-01', '']) {
    it(`refuses "${text}"`, () => expect(() => parseTimeFlag('since', text, now)).to.throw(/--since ".*" must be a duration back from now/));
  }
});

describe('vesslctl audit list against vessl-secrets up', function () {
  let world: CliWorld;
  const listed = async (...args: string[]) => (JSON.parse(ok(await world.cli(['audit', 'list', '-o', 'json', ...args])).stdout) as { seq: number; secretName: string; time: string }[]);

  before(async () => {
    world = await startCliWorld({ logLevel: 'warn' });
    ok(await world.cli(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]));
    for (const name of ['A1', 'A2', 'A3', 'A4']) ok(await world.cli(['secret', 'create', name, '--from-stdin'], { input: 'v' }));
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  it('--tail N lists the N newest events, oldest first; --limit N the N oldest', async () => {
    expect((await listed('--tail', '2')).map((e) => e.secretName)).to.deep.equal(['A3', 'A4']);
    expect((await listed('--limit', '2')).map((e) => e.secretName)).to.deep.equal(['A1', 'A2']);
  });

  it('--since and --until bound the time', async () => {
    const all = await listed();
    expect(await listed('--since', '1h')).to.deep.equal(all);
    expect(await listed('--until', '1h')).to.deep.equal([]);
    expect(await listed('--since', all[2].time)).to.deep.equal(all.filter((e) => e.time >= all[2].time));
  });

  it('--follow prints new events as they are recorded, and Ctrl-C ends it with exit 130', async () => {
    const env = { PATH: process.env.PATH, HOME: path.join(world.configDir, '..', 'home'), VESSLCTL_CONFIG_DIR: world.configDir };
    const child = spawn(process.execPath, [CLI_BIN, 'audit', 'list', '--tail', '1', '--follow', '-o', 'json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    /** Resolves once stdout matches (checked on every chunk); rejects if the process exits first. */
    const lines = (wanted: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!wanted.test(out)) return;
          child.stdout.off('data', check);
          resolve();
        };
        child.stdout.on('data', check);
        child.once('exit', () => reject(new Error(`exited before printing ${wanted}: ${out}`)));
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await lines(/"secretName":"A4"/);
    ok(await world.cli(['secret', 'create', 'FOLLOWED', '--from-stdin'], { input: 'v' }));
    await lines(/"secretName":"FOLLOWED"/);
    child.kill('SIGINT');
    expect(await exited).to.equal(130);
    // JSON Lines: one event per line.
    expect(out.trim().split('\n').map((line) => (JSON.parse(line) as { secretName: string }).secretName)).to.deep.equal(['A4', 'FOLLOWED']);
  });
});
