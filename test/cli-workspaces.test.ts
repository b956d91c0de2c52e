// `vesslctl workspace ...` from the built bundle against `vessl-secrets up`: the lifecycle in
// tables and JSON, the refusals, exec's streams and exit statuses, `shell` on a real
// pseudo-terminal, and what a rotation does to a running workspace's file and variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { digestBytes } from './support/chaos.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import { CLI_BIN, type RunResult } from './support/processes.js';
import { startInTerminal, startOnTerminal, type TerminalSession } from './support/terminal.js';
import { until } from './support/until.js';

const PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIWorkspaceFileTestLine1AAAAAAAAAAAAAAAAAAAAAoAoGCCqGSM49\nAwEHoUQDQgAEWorkspaceFileTestLine2BBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n-----END EC PRIVATE KEY-----\n';
const ROTATED_PEM = PEM.replace('Line1', 'Rot1').replace('Line2', 'Rot2');
const HF_VALUE = 'hf_workspace_cli_test_value';
const HF_ROTATED = 'hf_workspace_cli_test_rotated_longer';
const KEY_PATH = '/run/secrets/tls/key.pem';

const CTRL_C = '\x03';
const ENTER = '\r';

interface WorkspaceOut {
  name: string;
  id: string;
  state: string;
  run: number;
  createBy: string;
  secrets: Array<{ secretName: string; envName: string; filePath: string }>;
  injected: Array<{ secretName: string; envName: string; filePath: string; version: number; currentVersion: number; stale: boolean; refreshTime: string | null; removed: boolean }>;
  shellCommand: string;
}

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

/** The single stderr line of a command that failed with exit status `code`. */
function errorLine(r: RunResult, code: number): string {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  return lines[0];
}

describe('vesslctl workspace (the built bundle against vessl-secrets up)', function () {
  this.timeout(120_000);
  let world: CliWorld;
  const json = async <T = WorkspaceOut>(args: string[], input?: string): Promise<T> => JSON.parse(ok(await world.cli([...args, '-o', 'json'], { input })).stdout) as T;
  const names = async () => ok(await world.cli(['workspace', 'list', '-o', 'name'])).stdout;
  const create = (name: string, extra: string[] = []) =>
    json(['workspace', 'create', '-n', name, '-i', 'python:3.12', '--secret', 'HF_TOKEN', '--secret-file', `${KEY_PATH}=tls-key`, '--env', 'MODE=dev', ...extra]);

  before(async () => {
    world = await startCliWorld({ logLevel: 'warn' });
    ok(await world.cli(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]));
    const keyFile = path.join(world.configDir, '..', 'tls.key');
    writeFileSync(keyFile, PEM);
    ok(await world.cli(['secret', 'create', 'tls-key', 'TLS_KEY', '--from-file', keyFile]));
    ok(await world.cli(['secret', 'create', 'HF_TOKEN', '--from-stdin'], { input: HF_VALUE }));
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });
  afterEach(() => {
    // No value ever reaches vesslctl's output: masked in exec's, never sent otherwise.
    for (const out of world.outputs) {
      for (const value of [HF_VALUE, HF_ROTATED, PEM.split('\n')[1], ROTATED_PEM.split('\n')[1]]) expect(out.stdout + out.stderr).to.not.include(value);
    }
  });

  describe('create, list, show, stop, start, delete', () => {
    it('creates a running workspace with a variable and a file, and says how to open a shell in it', async () => {
      const created = ok(await world.cli(['workspace', 'create', '-n', 'tour', '-i', 'python:3.12', '--secret', 'HF_TOKEN', '--secret-file', `${KEY_PATH}=tls-key`]));
      expect(created.stdout).to.match(/^Created workspace tour in org default\./);
      expect(created.stdout).to.match(/state:\s+(running|starting)/);
      expect(created.stdout).to.include('env HF_TOKEN ← HF_TOKEN v1');
      expect(created.stdout).to.include(`file ${KEY_PATH} ← tls-key v1`);
      expect(created.stdout).to.include('Open a shell in it: vesslctl workspace shell tour');

      const w = await create('lifecycle');
      expect(w).to.include({ name: 'lifecycle', run: 1 });
      expect(w.id).to.match(/^w_[0-9a-f]{16}$/);
      expect(w.secrets).to.deep.equal([
        { secretName: 'HF_TOKEN', envName: '', filePath: '' },
        { secretName: 'tls-key', envName: '', filePath: KEY_PATH },
      ]);
      const injected = w.injected.map(({ secretName, envName, filePath, version, stale, removed }) => ({ secretName, envName, filePath, version, stale, removed }));
      expect(injected).to.have.deep.members([
        { secretName: 'HF_TOKEN', envName: 'HF_TOKEN', filePath: '', version: 1, stale: false, removed: false },
        { secretName: 'tls-key', envName: '', filePath: KEY_PATH, version: 1, stale: false, removed: false },
      ]);
      expect(ok(await world.cli(['workspace', 'create', '-n', 'quiet', '-i', 'python:3.12', '-q'])).stdout).to.equal('quiet\n');
    });

    it('lists workspaces in a table (name, state, owner, secrets, age), as JSON and by name', async () => {
      await until('every workspace running', async () => ((await json<WorkspaceOut[]>(['workspace', 'list'])).every((w) => w.state === 'running') ? true : undefined));
      const table = ok(await world.cli(['workspace', 'list'])).stdout;
      expect(table.split('\n')[0]).to.match(/^NAME\s+STATE\s+OWNER\s+SECRETS\s+AGE$/);
      expect(table).to.match(/^lifecycle\s+running\s+\S+\s+HF_TOKEN,tls-key\s+\d+[smhd]$/m);
      expect(table).to.match(/^quiet\s+running\s+\S+\s+-\s+\d+[smhd]$/m);
      const listed = await json<WorkspaceOut[]>(['workspace', 'list']);
      expect(listed.map((w) => w.name)).to.deep.equal(['quiet', 'lifecycle', 'tour']); // newest first
      expect(await names()).to.equal('quiet\nlifecycle\ntour\n');
      expect(ok(await world.cli(['workspace', 'list', '--limit', '1', '-o', 'name'])).stdout).to.equal('quiet\n');
      expect(ok(await world.cli(['workspace', 'list', '--secret', 'tls-key', '-o', 'name'])).stdout).to.equal('lifecycle\ntour\n');
    });

    it('shows each secret of the run: a variable as env KEY ← NAME vN, a file with when it was written', async () => {
      const shown = ok(await world.cli(['workspace', 'show', 'lifecycle'])).stdout;
      expect(shown).to.match(/^name:\s+lifecycle$/m);
      expect(shown).to.match(/^state:\s+running$/m);
      expect(shown).to.include('env HF_TOKEN ← HF_TOKEN v1\n');
      expect(shown).to.match(new RegExp(`file ${KEY_PATH} ← tls-key v1, refreshed at \\d{4}-\\d\\d-\\d\\dT`));
      expect(shown).to.include('vesslctl workspace shell lifecycle');
      expect(shown).to.match(/^env:\s+MODE=dev$/m);
    });

    it('stops and starts a workspace (a new run), and deletes it only when confirmed', async () => {
      const stopped = ok(await world.cli(['workspace', 'stop', 'quiet'])).stdout;
      expect(stopped).to.match(/^Workspace quiet is stopped;/);
      expect((await json(['workspace', 'show', 'quiet'])).state).to.equal('stopped');
      const refused = errorLine(await world.cli(['workspace', 'exec', 'quiet', '--', 'true']), 1);
      expect(refused).to.match(/^error: workspace "quiet" is stopped: start it first \(vesslctl workspace start quiet\) \(FAILED_PRECONDITION\)$/);

      const started = await json(['workspace', 'start', 'quiet']);
      expect(started).to.include({ name: 'quiet', run: 2 });

      const unconfirmed = errorLine(await world.cli(['workspace', 'delete', 'quiet']), 2);
      expect(unconfirmed).to.equal('error: refusing to delete without confirmation when not on a terminal: pass --yes');
      expect(await names()).to.include('quiet\n');
      expect(await json(['workspace', 'delete', 'quiet', '--yes'])).to.deep.equal({ org: 'default', name: 'quiet' });
      expect(await names()).to.not.include('quiet\n');
      expect(errorLine(await world.cli(['workspace', 'show', 'quiet']), 3)).to.match(/^error: .*quiet.* \(NOT_FOUND\)$/);
      // The name is free again.
      expect((await json(['workspace', 'create', '-n', 'quiet', '-i', 'python:3.12'])).run).to.equal(1);
      ok(await world.cli(['workspace', 'rm', 'quiet', '-y']));
    });

    it('asks on a terminal before deleting: "n" keeps it (exit 1), Ctrl-C too (exit 130), "y" deletes it', async () => {
      const env = { PATH: process.env.PATH, HOME: path.join(world.configDir, '..', 'home'), VESSLCTL_CONFIG_DIR: world.configDir };
      const question = /Delete workspace "tour" in org default\? .*\[y\/N\] /;
      for (const [answer, code] of [[`n${ENTER}`, 1], [CTRL_C, 130]] as const) {
        const session = startInTerminal(CLI_BIN, ['workspace', 'delete', 'tour'], env);
        await session.waitFor(question);
        session.type(answer);
        expect(await session.exited, session.output()).to.equal(code);
        expect(await names()).to.include('tour\n');
      }
      const session = startInTerminal(CLI_BIN, ['workspace', 'delete', 'tour'], env);
      await session.waitFor(question);
      session.type(`y${ENTER}`);
      expect(await session.exited, session.output()).to.equal(0);
      expect(session.output()).to.include('Deleted workspace tour in org default.');
      expect(await names()).to.not.include('tour\n');
    });
  });

  describe('refuses bad input with one line and a usage, not-found or refusal status, creating nothing', () => {
    const rows: Array<{ what: string; args: string[]; code: number; line: RegExp }> = [
      { what: 'a name with a space', args: ['-n', 'bad name', '-i', 'python:3.12'], code: 2, line: /name/ },
      { what: 'no -i IMAGE', args: ['-n', 'no-image'], code: 2, line: /missing required flag.*image/i },
      { what: 'no -n NAME', args: ['-i', 'python:3.12'], code: 2, line: /missing required flag.*name/i },
      { what: '--secret-file without =', args: ['-n', 'bad-file', '-i', 'x', '--secret-file', KEY_PATH], code: 2, line: /--secret-file "\/run\/secrets\/tls\/key\.pem" must be PATH=NAME/ },
      { what: 'a relative --secret-file path', args: ['-n', 'bad-file', '-i', 'x', '--secret-file', 'key.pem=tls-key'], code: 2, line: /not an absolute path/ },
      { what: 'a --secret-file path outside the roots', args: ['-n', 'bad-file', '-i', 'x', '--secret-file', '/etc/key.pem=tls-key'], code: 2, line: /not under \/run\/secrets\// },
      { what: 'an unknown secret', args: ['-n', 'unknown-secret', '-i', 'x', '--secret', 'NOPE'], code: 3, line: /NOPE.*\(NOT_FOUND\)$/ },
      { what: '--env without =', args: ['-n', 'bad-env', '-i', 'x', '--env', 'MODE'], code: 2, line: /--env "MODE" must be KEY=VALUE/ },
      { what: 'a name that is taken', args: ['-n', 'lifecycle', '-i', 'x'], code: 1, line: /lifecycle.*\(ALREADY_EXISTS\)$/ },
    ];
    for (const row of rows) {
      it(`${row.what} (exit ${row.code})`, async () => {
        const before = await names();
        expect(errorLine(await world.cli(['workspace', 'create', ...row.args]), row.code)).to.match(row.line);
        expect(await names()).to.equal(before);
      });
    }

    const execRows: Array<{ what: string; args: string[]; code: number; line: RegExp }> = [
      { what: 'exec in a workspace that does not exist', args: ['exec', 'nope', '--', 'true'], code: 3, line: /^error: .*nope.*: run `vesslctl workspace list` \(NOT_FOUND\)$/ },
      { what: 'shell in a workspace that does not exist', args: ['shell', 'nope'], code: 3, line: /\(NOT_FOUND\)$/ },
      { what: 'exec without a command', args: ['exec', 'lifecycle'], code: 2, line: /^error: a command is needed after --: vesslctl workspace exec lifecycle -- CMD/ },
      { what: 'exec with -o json (it prints the command\'s own output)', args: ['exec', 'lifecycle', '-o', 'json', '--', 'true'], code: 2, line: /leave -o out$/ },
      { what: 'a command without --', args: ['exec', 'lifecycle', 'ls'], code: 2, line: /unexpected argument: ls/i },
    ];
    for (const row of execRows) {
      it(`${row.what} (exit ${row.code})`, async () => {
        expect(errorLine(await world.cli(['workspace', ...row.args]), row.code)).to.match(row.line);
      });
    }
  });

  describe('another\'s workspace', () => {
    it('refuses a member\'s exec in the admin\'s workspace in one line that names its owner (exit 4), without sending them to an admin', async () => {
      ok(await world.cli(['workspace', 'create', '-n', 'admins-own', '-i', 'x']));
      const memberConfig = mkdtempSync(path.join(tmpdir(), 'vessl-member-cli-'));
      try {
        const asMember = (args: string[]) => world.cli(args, { env: { VESSLCTL_CONFIG_DIR: memberConfig } });
        ok(await asMember(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json'), '--role', 'member']));
        const refused = await asMember(['workspace', 'exec', 'admins-own', '--', 'true']);
        expect(refused.code).to.equal(4);
        expect(refused.stderr.trim().split('\n')).to.have.length(1);
        expect(refused.stderr).to.include('belongs to dev-admin').and.include('(your role: member)').and.not.include('ask an org admin');
      } finally {
        rmSync(memberConfig, { recursive: true, force: true });
        ok(await world.cli(['workspace', 'delete', 'admins-own', '--yes']));
      }
    });
  });

  describe('exec -- CMD [ARGS...]', () => {
    const exec = (args: string[], input?: string) => world.cli(['workspace', 'exec', 'lifecycle', ...args], { input });

    it('exits with the command\'s exit status', async () => {
      for (const code of [0, 3, 42]) expect((await exec(['--', 'sh', '-c', `exit ${code}`])).code).to.equal(code);
    });

    it('passes arguments as given (no shell), stdout to stdout and stderr to stderr', async () => {
      const r = ok(await exec(['--', 'sh', '-c', 'echo "out:$1"; echo "err:$2" >&2', 'sh', 'a b', '-t']));
      expect(r.stdout).to.equal('out:a b\n');
      expect(r.stderr).to.equal('err:-t\n');
    });

    it('streams stdin with -i (to its end), and gives none without it', async () => {
      expect(ok(await exec(['-i', '--', 'sh', '-c', 'wc -c'], 'x'.repeat(100_000))).stdout.trim()).to.equal('100000');
      expect(ok(await exec(['--', 'cat'], 'not sent')).stdout).to.equal('');
    });

    it('runs with the workspace\'s variables and files, and masks values in its output', async () => {
      const r = ok(await exec(['--', 'sh', '-c', `echo "$MODE \${#HF_TOKEN}"; sha256sum < ${KEY_PATH}; echo "$HF_TOKEN"`]));
      const [mode, digest, printed] = r.stdout.split('\n');
      expect(mode).to.equal(`dev ${HF_VALUE.length}`);
      expect(digest.slice(0, 64)).to.equal(digestBytes(Buffer.from(PEM)));
      expect(printed).to.equal('***');
    });

    it('warns that -t needs -i, and that it needs a terminal, then runs without one', async () => {
      const alone = ok(await exec(['-t', '--', 'sh', '-c', 'test -t 1 && echo tty || echo no-tty']));
      expect(alone.stdout).to.equal('no-tty\n');
      expect(alone.stderr).to.match(/^warning: -t needs -i/);
      const piped = ok(await exec(['-it', '--', 'sh', '-c', 'test -t 1 && echo tty || echo no-tty']));
      expect(piped.stdout).to.equal('no-tty\n');
      expect(piped.stderr).to.match(/^warning: unable to use a terminal: input is not a terminal/);
    });

    it('workspace shell reads its commands from a pipe, without a terminal or a warning', async () => {
      const r = await world.cli(['workspace', 'shell', 'lifecycle'], { input: 'echo "piped:$MODE"\nexit 7\n' });
      expect(r.code).to.equal(7);
      expect(r.stdout).to.equal('piped:dev\n');
      expect(r.stderr).to.equal('');
    });
  });

  describe('workspace shell on a real pseudo-terminal', () => {
    let session: TerminalSession;
    /**
     * Types a command line and waits for a line of its output (not the echo of what was typed).
     * Lines end in \r\r\n: the remote terminal's \r\n, whose \n the local one (raw, as Node's
     * setRawMode leaves output processing on) turns into \r\n again.
     */
    const run = async (line: string, output: RegExp) => {
      session.type(`${line}${ENTER}`);
      return session.waitFor(output);
    };

    before(() => {
      // vesslctl inside a local shell on the terminal: after it, the shell reports its exit
      // status and the terminal's mode (which vesslctl must have put back to cooked).
      const env = { PATH: process.env.PATH, HOME: path.join(world.configDir, '..', 'home'), VESSLCTL_CONFIG_DIR: world.configDir };
      const script = `"${process.execPath}" "${CLI_BIN}" workspace shell lifecycle; echo "vesslctl exited with $?"; stty -a`;
      session = startOnTerminal(['/bin/sh', '-c', script], env, { size: { rows: 31, cols: 107 } });
    });

    it('runs interactive programs', async () => {
      await run('echo "rea""dy"', /^ready\r+$/m);
      await run('read x; echo "got:$x"', /read x; echo "got:\$x"\r+\n/);
      session.type(`hello${ENTER}`);
      await session.waitFor(/^got:hello\r+$/m);
    });

    it('gives the remote terminal the local one\'s size, and each new size', async () => {
      await run('stty size', /^31 107\r+$/m);
      session.resize(44, 132);
      // The resize reaches vesslctl as SIGWINCH, beside the typed keys: ask until it has arrived.
      let asked = 0;
      await until('the new size inside the workspace', async () => {
        asked++;
        session.type(`echo "size$((${asked}))=$(stty size)"${ENTER}`);
        const seen = await session.waitFor(new RegExp(`^size${asked}=\\d+ \\d+\\r+$`, 'm'));
        return seen.includes('=44 132') ? true : undefined;
      });
    });

    it('sends Ctrl-C to the remote program, not to vesslctl: sleep is interrupted, the shell lives on', async () => {
      // Printed by the foreground job itself: the terminal is its by then, so Ctrl-C reaches sleep
      // (a line printed by the shell before it starts sleep could race the Ctrl-C).
      await run('sh -c \'echo "sle""eping"; exec sleep 1000\'', /^sleeping\r+$/m);
      session.type(CTRL_C);
      await run('echo "ali""ve-$((1+1))"', /^alive-2\r+$/m);
    });

    it('exits with the shell\'s exit status, and leaves the local terminal in cooked mode', async () => {
      session.type(`exit 5${ENTER}`);
      await session.waitFor(/^vesslctl exited with 5\r$/m);
      expect(await session.exited, session.output()).to.equal(0);
      const mode = session.output().slice(session.output().indexOf('vesslctl exited with 5'));
      for (const flag of ['icanon', 'echo', 'isig', 'icrnl', 'opost']) expect(mode).to.match(new RegExp(`(^|\\s)${flag}(\\s|$)`, 'm'), flag);
    });
  });

  describe('a rotation while the workspace runs', () => {
    it('refreshes the file to the new version and marks the variable stale; secret show lists the workspace', async () => {
      const keyFile = path.join(world.configDir, '..', 'tls-rotated.key');
      writeFileSync(keyFile, ROTATED_PEM);
      ok(await world.cli(['secret', 'update', 'tls-key', '--from-file', keyFile]));
      ok(await world.cli(['secret', 'update', 'HF_TOKEN', '--from-stdin'], { input: HF_ROTATED }));

      const shown = await until('the file refreshed to v2', async () => {
        const out = ok(await world.cli(['workspace', 'show', 'lifecycle'])).stdout;
        return out.includes(`file ${KEY_PATH} ← tls-key v2, refreshed at`) ? out : undefined;
      });
      expect(shown).to.include('env HF_TOKEN ← HF_TOKEN v1 (stale: restart to refresh; current v2)');
      const r = ok(await world.cli(['workspace', 'exec', 'lifecycle', '--', 'sh', '-c', `sha256sum < ${KEY_PATH}; echo \${#HF_TOKEN}`]));
      expect(r.stdout.slice(0, 64)).to.equal(digestBytes(Buffer.from(ROTATED_PEM)));
      expect(r.stdout.split('\n')[1]).to.equal(String(HF_VALUE.length)); // the variable keeps its version

      const w = await json(['workspace', 'show', 'lifecycle']);
      expect(w.injected.find((s) => s.filePath === KEY_PATH)).to.include({ version: 2, currentVersion: 2, stale: false, removed: false });
      expect(w.injected.find((s) => s.envName === 'HF_TOKEN')).to.include({ version: 1, currentVersion: 2, stale: true });

      expect(ok(await world.cli(['secret', 'show', 'HF_TOKEN'])).stdout).to.match(/workspace lifecycle \(w_[0-9a-f]{16}\) run 1 as HF_TOKEN v1 — stale: rotated to v2, stop and start it to refresh/);
      expect(ok(await world.cli(['secret', 'show', 'tls-key'])).stdout).to.match(new RegExp(`workspace lifecycle \\(w_[0-9a-f]{16}\\) run 1 as file ${KEY_PATH} v2 — current`));
      const { usedByWorkspaces } = await json<{ usedByWorkspaces: unknown[] }>(['secret', 'show', 'HF_TOKEN']);
      expect(usedByWorkspaces).to.deep.equal([{ workspaceName: 'lifecycle', workspaceId: w.id, run: 1, envName: 'HF_TOKEN', filePath: '', version: 1, currentVersion: 2, stale: true }]);
    });

    it('a stop and a start refresh the variable', async () => {
      ok(await world.cli(['workspace', 'stop', 'lifecycle']));
      const w = await json(['workspace', 'start', 'lifecycle']);
      expect(w.injected.find((s) => s.envName === 'HF_TOKEN')).to.include({ version: 2, stale: false });
      await until('running again', async () => ((await json(['workspace', 'show', 'lifecycle'])).state === 'running' ? true : undefined));
      expect(ok(await world.cli(['workspace', 'exec', 'lifecycle', '--', 'sh', '-c', 'echo ${#HF_TOKEN}'])).stdout).to.equal(`${HF_ROTATED.length}\n`);
    });

    it('removes the file of a deleted secret from the running workspace', async () => {
      ok(await world.cli(['secret', 'delete', 'tls-key', '--yes']));
      const shown = await until('the file removed', async () => {
        const out = ok(await world.cli(['workspace', 'show', 'lifecycle'])).stdout;
        return out.includes('removed (secret deleted)') ? out : undefined;
      });
      expect(shown).to.match(new RegExp(`file ${KEY_PATH} ← tls-key v2, removed \\(secret deleted\\)`));
      expect((await world.cli(['workspace', 'exec', 'lifecycle', '--', 'test', '-e', KEY_PATH])).code).to.equal(1);
    });
  });
});
