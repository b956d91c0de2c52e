import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runWithStrayFd } from '../../../test/support/stray-fd.js';
import { until } from '../../../test/support/until.js';
import type { SecretFileEntry } from '../backend.js';
import { hostLayout } from '../sandbox/bubblewrap.js';
import { createLocalWorkspaceBackend, exitMessage, type LocalWorkspaceBackendOptions } from './local-workspaces.js';
import type { ExecExitStatus, ExecProcess, ExecRequest, WorkspaceBackend, WorkspaceHandle, WorkspaceSpec, WorkspaceStatus } from './workspace-backend.js';

/**
 * The local workspace backend, driven directly, through real bubblewrap sandboxes and nsenter
 * (the server runs as root here and in CI: each run gets a uid of its own).
 */

const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// NUL bytes, bytes that are not UTF-8, a trailing newline: nothing a variable can carry.
const BINARY = Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x00, 0x7f, 0x80, 0x0a, ...Buffer.from('binary-secret-tail-0123456789'), 0x00]);
const SECRET_VALUE = `s3cr3t-${randomBytes(8).toString('hex')} with 'quotes', "double", $dollar, \`ticks\` and a\nnewline`;
const PLAIN_VALUE = `plain-${randomBytes(8).toString('hex')}`;

interface Collected extends ExecExitStatus {
  stdout: string;
  stderr: string;
}

/** Waits for the output to hold `text`, the command's end, or the deadline. */
function collect(exec: ExecProcess): { output: () => string; stderr: () => string; waitFor: (text: string | RegExp) => Promise<void>; done: Promise<Collected> } {
  let stdout = '';
  let stderr = '';
  exec.onStdout((chunk) => (stdout += chunk.toString('utf8')));
  exec.onStderr((chunk) => (stderr += chunk.toString('utf8')));
  const matches = (text: string | RegExp) => (typeof text === 'string' ? stdout.includes(text) : text.test(stdout));
  return {
    output: () => stdout,
    stderr: () => stderr,
    waitFor: (text) => until(`output ${String(text)} (so far ${JSON.stringify(stdout)})`, async () => (matches(text) ? true : undefined), 30_000).then(() => undefined),
    done: exec.exit.then((status) => ({ ...status, stdout, stderr })),
  };
}

describe('local workspace backend', function () {
  this.timeout(120_000);
  let dataDir: string;
  let homeRoot: string;
  let filesRoot: string;
  let backend: WorkspaceBackend;
  let counter = 0;
  const changes: { handle: WorkspaceHandle; status: WorkspaceStatus }[] = [];
  const started: WorkspaceHandle[] = [];

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'vessl-ws-data-'));
    homeRoot = path.join(tmpdir(), `vessl-ws-homes-${randomBytes(6).toString('hex')}`);
    filesRoot = path.join('/dev/shm', `vessl-ws-files-${randomBytes(6).toString('hex')}`);
    // A uid range of its own: another server on this host (another test run) may use the default one.
    const uids = { first: 2_100_000_000 + Math.floor(Math.random() * 100_000) * 64, count: 64 };
    backend = createLocalWorkspaceBackend({ dataDir, homeRoot, filesRoot, uids, stopGraceMs: 1000 });
    backend.onStateChange!((handle, status) => changes.push({ handle, status }));
  });
  after(async () => {
    await backend.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(homeRoot, { recursive: true, force: true });
    await rm(filesRoot, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const handle of started.splice(0)) await backend.remove(handle.org, handle.workspaceId);
  });

  const file = (filePath: string, value: string | Uint8Array, version = 1): SecretFileEntry => ({ path: filePath, value: typeof value === 'string' ? Buffer.from(value) : value, secretName: 'key', version });
  const spec = (overrides: Partial<WorkspaceSpec> = {}): WorkspaceSpec => ({
    org: 'acme',
    workspaceId: `w_${(++counter).toString(16).padStart(16, 'a')}`,
    run: 1,
    name: 'dev',
    image: '',
    command: '',
    env: [],
    secretEnv: [],
    secretFiles: [],
    ...overrides,
  });
  async function start(s: WorkspaceSpec): Promise<WorkspaceHandle> {
    const { ref } = await backend.start(s);
    const handle = { org: s.org, workspaceId: s.workspaceId, run: s.run, ref };
    started.push(handle);
    return handle;
  }
  async function exec(handle: WorkspaceHandle, command: string[], options: Partial<ExecRequest> & { input?: string } = {}): Promise<Collected> {
    const running = await backend.exec(handle, { command, tty: false, ...options });
    const run = collect(running);
    if (options.input !== undefined) running.write(Buffer.from(options.input));
    if (!options.tty) running.closeStdin();
    return run.done;
  }
  const sh = (handle: WorkspaceHandle, script: string, options: Partial<ExecRequest> & { input?: string } = {}) => exec(handle, ['/bin/sh', '-c', script], options);
  const stateChange = (handle: WorkspaceHandle) =>
    until('a state change', async () => changes.find((c) => c.handle.workspaceId === handle.workspaceId && c.handle.run === handle.run)?.status);
  /** Host processes running as `uid` (not counting zombies: ended, waiting for the host's init to reap them). */
  const processesOf = (uid: number) =>
    readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        const status = readFileSync(`/proc/${p}/status`, 'utf8');
        return new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status) && !/^State:\s+Z/m.test(status);
      } catch {
        return false;
      }
    });
  const uidOfIn = async (on: WorkspaceBackend, handle: WorkspaceHandle) => {
    const running = await on.exec(handle, { command: ['id', '-u'], tty: false });
    const out = collect(running);
    running.closeStdin();
    return Number((await out.done).stdout.trim());
  };
  const uidOf = (handle: WorkspaceHandle) => uidOfIn(backend, handle);

  describe('runs', () => {
    it('idles while it has no command, and stop() ends every process of its sandbox before it resolves', async () => {
      const handle = await start(spec());
      expect((await backend.status(handle)).state).to.equal('RUNNING');
      // A process that left its group and session: stop() must still find it (it is in the sandbox's PID namespace).
      await sh(handle, 'setsid sleep 1000 >/dev/null 2>&1 < /dev/null &');
      const uid = await uidOf(handle);
      expect(processesOf(uid).length).to.be.greaterThan(1);
      await backend.stop(handle);
      expect(processesOf(uid)).to.deep.equal([]);
      expect(await backend.status(handle)).to.include({ state: 'STOPPED' });
      expect(changes.filter((c) => c.handle.workspaceId === handle.workspaceId), 'a stop is not a change by itself').to.deep.equal([]);
      await backend.stop(handle); // idempotent
    });

    for (const [command, state, code] of [['exit 0', 'STOPPED', 0], ['exit 1', 'FAILED', 1], ['kill -9 $$', 'FAILED', 137]] as const) {
      it(`reports a command that ends by itself (${command}) as ${state}, with its status`, async () => {
        const handle = await start(spec({ command }));
        const status = await stateChange(handle);
        expect(status).to.include({ state, exitCode: code, message: exitMessage(code) });
        expect(await backend.status(handle)).to.include({ state, exitCode: code });
        await expectNoRunFiles();
      });
    }

    it('starts and then reports commands that end at once, however Node orders their exit and what bwrap reported (16 at a time)', async () => {
      // Under load, the exit came before bwrap's report had been read, and the start failed
      // ("the workspace sandbox could not be started"). Many at once make that order likely.
      const handles = await Promise.all(Array.from({ length: 16 }, () => start(spec({ command: 'exit 3' }))));
      for (const handle of handles) expect(await stateChange(handle)).to.include({ state: 'FAILED', exitCode: 3 });
      await expectNoRunFiles();
    });

    it('keeps a file of HOME across stop and start (with a new uid each run), and remove() deletes the home', async () => {
      const first = spec();
      const handle = await start(first);
      await sh(handle, 'mkdir -p notes && echo kept > notes/todo.txt && chmod 000 notes/todo.txt');
      await backend.stop(handle);
      // Between runs the home is the server's: the stopped run's uid may be another run's by now.
      expect((await stat(path.join(homeRoot, first.workspaceId))).uid).to.equal(process.getuid!());
      const second = await start({ ...first, run: 2 });
      const read = await sh(second, 'chmod 600 notes/todo.txt && cat notes/todo.txt && pwd && echo "$HOME"');
      expect(read.stdout).to.equal('kept\n/home/job\n/home/job\n');
      await backend.stop(second);
      await backend.remove(first.org, first.workspaceId);
      expect(await readdir(homeRoot)).to.not.include(first.workspaceId);
      await backend.remove(first.org, first.workspaceId); // idempotent
    });

    it('hands a new run only what a workspace uid owns in its home: a hard link to a host file stays the host\'s', async () => {
      const first = spec();
      await backend.stop(await start(first));
      // What a user could leave where hard links to others' files are allowed (fs.protected_hardlinks=0).
      const hostDir = mkdtempSync(path.join(tmpdir(), 'vessl-host-file-'));
      const hostFile = path.join(hostDir, 'shadow');
      writeFileSync(hostFile, 'host-only-secret\n', { mode: 0o600 });
      linkSync(hostFile, path.join(homeRoot, first.workspaceId, 'planted'));
      try {
        const second = await start({ ...first, run: 2 });
        const tried = await sh(second, 'cat planted 2>/dev/null || echo refused');
        expect(tried.stdout).to.equal('refused\n');
        expect(statSync(hostFile)).to.include({ uid: process.getuid!(), gid: process.getgid!() });
        await backend.stop(second);
      } finally {
        rmSync(hostDir, { recursive: true, force: true });
        await backend.remove(first.org, first.workspaceId);
      }
    });

    const BAD_SPECS: [string, Partial<WorkspaceSpec>, RegExp][] = [
      ['a workspace id that is a path', { workspaceId: '../w_0000000000000000' }, /invalid workspace id/],
      ['a workspace id of the wrong form', { workspaceId: 'w_ABCDEF' }, /invalid workspace id/],
      ['run 0', { run: 0 }, /invalid run number/],
      ['a variable name that is not one', { env: [{ name: '1BAD', value: 'x' }] }, /not a valid environment variable name/],
      ['a variable set twice', { env: [{ name: 'A', value: 'x' }], secretEnv: [{ name: 'A', value: Buffer.from('y'), secretName: 's', version: 1 }] }, /set twice/],
      ['a secret variable with a NUL byte', { secretEnv: [{ name: 'S', value: Buffer.from([0x61, 0, 0x62]), secretName: 's', version: 1 }] }, /NUL byte/],
      ['a secret variable that is not UTF-8', { secretEnv: [{ name: 'S', value: Buffer.from([0xff, 0xfe]), secretName: 's', version: 1 }] }, /not UTF-8/],
      ['a file outside the roots', { secretFiles: [{ path: '/etc/x', value: Buffer.from('x'), secretName: 's', version: 1 }] }, /is not under/],
      ['two files on one path', { secretFiles: [{ path: '/run/secrets/x', value: Buffer.from('x'), secretName: 's', version: 1 }, { path: '/run/secrets/x', value: Buffer.from('y'), secretName: 't', version: 1 }] }, /one file per path/],
    ];
    for (const [what, overrides, message] of BAD_SPECS) {
      it(`refuses to start with ${what}, leaving nothing behind`, async () => {
        const s = spec(overrides);
        const err = await backend.start(s).then(() => undefined, (e: unknown) => e as Error & { publicMessage?: string });
        expect(err?.name).to.equal('BackendError');
        expect(err?.publicMessage).to.match(message);
        expect(await readdir(homeRoot)).to.not.include(s.workspaceId);
        await expectNoRunFiles();
      });
    }

    it('starts one run of a workspace at a time, also when two starts race', async () => {
      const s = spec();
      const outcomes = await Promise.allSettled([start(s), start({ ...s, run: 2 })]);
      expect(outcomes.map((o) => o.status).sort()).to.deep.equal(['fulfilled', 'rejected']);
      expect(String((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason)).to.match(/is running already/);
    });

    it('refuses exec, writeFile and removeFile once the run is stopped', async () => {
      const handle = await start(spec());
      await backend.stop(handle);
      for (const call of [() => backend.exec(handle, { command: ['true'], tty: false }), () => backend.writeFile(handle, file('/run/secrets/a', 'x')), () => backend.removeFile(handle, '/run/secrets/a')]) {
        const err = await call().then(() => undefined, (e: unknown) => e as Error & { reason?: string });
        expect(err?.name).to.equal('BackendPreconditionError');
        expect(err?.reason).to.equal('WORKSPACE_NOT_RUNNING');
      }
    });
  });

  describe('exec', () => {
    it('gives the command exactly the run\'s environment: its plain and secret variables, nothing of the server\'s', async () => {
      process.env.VESSL_SERVER_MARKER = 'server-only';
      try {
        const handle = await start(spec({ env: [{ name: 'PLAIN', value: PLAIN_VALUE }], secretEnv: [{ name: 'SECRET', value: Buffer.from(SECRET_VALUE), secretName: 's', version: 1 }] }));
        const { stdout, code } = await exec(handle, ['/usr/bin/env', '-0']);
        expect(code).to.equal(0);
        const env = Object.fromEntries(stdout.split('\0').filter(Boolean).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
        expect(env).to.deep.equal({ PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/home/job', VESSL_WORKSPACE: 'dev', PLAIN: PLAIN_VALUE, SECRET: SECRET_VALUE });
      } finally {
        delete process.env.VESSL_SERVER_MARKER;
      }
    });

    it('connects stdin, stdout and stderr separately, gives end of input on closeStdin, and returns the status', async () => {
      const handle = await start(spec());
      const result = await sh(handle, 'tr a-z A-Z; echo to-stderr >&2; exit 5', { input: 'hello\n' });
      expect(result).to.deep.include({ code: 5, stdout: 'HELLO\n', stderr: 'to-stderr\n' });
    });

    for (const tty of [false, true]) {
      it(`settles the exit only once all output was delivered (${tty ? 'terminal' : 'plain'})`, async () => {
        const handle = await start(spec());
        const result = await sh(handle, 'head -c 1000000 /dev/zero | tr "\\0" a; exit 3', { tty });
        expect(result.code).to.equal(3);
        expect(result.stdout.length).to.equal(1_000_000);
        expect(result.stdout.replace(/a/g, '')).to.equal('');
      });
    }

    it('answers 127 with a message for a program that does not exist, with or without a terminal', async () => {
      const handle = await start(spec());
      const plain = await exec(handle, ['no-such-program']);
      expect(plain.code).to.equal(127);
      expect(plain.stderr).to.match(/no-such-program: not found/);
      const tty = await exec(handle, ['no-such-program'], { tty: true });
      expect(tty.code).to.equal(127);
      expect(tty.stdout).to.match(/no-such-program: command not found/);
    });

    it('kill() ends the command and what it started', async () => {
      const handle = await start(spec());
      const running = await backend.exec(handle, { command: ['/bin/sh', '-c', 'setsid sleep 2001 & sleep 2002 & echo started; wait'], tty: false });
      const run = collect(running);
      await run.waitFor('started');
      running.kill();
      expect((await run.done).signal).to.equal('SIGKILL');
      // SIGKILL is sent to all before nsenter reports: each is gone once the kernel has run its exit.
      await until('the command\'s children to end', async () => ((await sh(handle, 'ps -eo args | grep -c "^sleep 200[12]" || true')).stdout.trim() === '0' ? true : undefined));
    });

    it('ends a running command when the workspace is stopped', async () => {
      const handle = await start(spec());
      const running = await backend.exec(handle, { command: ['/bin/sh', '-c', 'echo started; exec sleep 1000'], tty: false });
      const run = collect(running);
      await run.waitFor('started');
      await backend.stop(handle);
      const ended = await run.done;
      expect(ended.code).to.be.greaterThan(128);
    });
  });

  describe('exec with a terminal', () => {
    it('starts the command with a terminal of the requested size, inside the sandbox', async () => {
      const handle = await start(spec());
      const result = await exec(handle, ['/bin/sh', '-c', 'stty size; tty; test -t 0 && echo stdin-is-a-tty; echo to-stderr >&2'], { tty: true, size: { rows: 33, cols: 101 } });
      expect(result.code).to.equal(0);
      expect(result.stdout.split('\r\n')).to.deep.equal(['33 101', '/dev/pts/0', 'stdin-is-a-tty', 'to-stderr', '']);
      expect(result.stderr).to.equal('');
    });

    it('passes a resize on to the program (SIGWINCH, and the new size)', async () => {
      const handle = await start(spec());
      const running = await backend.exec(handle, { command: ['/bin/sh', '-c', 'trap "stty size; exit 0" WINCH; echo ready; while :; do sleep 0.05; done'], tty: true, size: { rows: 24, cols: 80 } });
      const run = collect(running);
      await run.waitFor('ready');
      running.resize({ rows: 50, cols: 132 });
      const result = await run.done;
      expect(result.code).to.equal(0);
      expect(result.stdout).to.include('50 132');
    });

    it('turns byte 0x03 into SIGINT for the program: sleep ends with 130 and SIGINT', async () => {
      const handle = await start(spec());
      const running = await backend.exec(handle, { command: ['/bin/sh', '-c', 'echo ready; exec sleep 1000'], tty: true });
      const run = collect(running);
      await run.waitFor('ready');
      await until('sleep to run', async () => ((await sh(handle, 'ps -eo args')).stdout.includes('sleep 1000') ? true : undefined));
      running.write(Buffer.from([0x03]));
      expect(await run.done).to.deep.include({ code: 130, signal: 'SIGINT' });
    });

    it('returns the status an interactive shell exits with', async () => {
      const handle = await start(spec());
      const running = await backend.exec(handle, { command: [], tty: true, size: { rows: 24, cols: 80 } });
      const run = collect(running);
      running.write(Buffer.from('echo "$((6*7))"\nexit 7\n'));
      const result = await run.done;
      expect(result.code).to.equal(7);
      expect(result.stdout).to.include('42');
    });
  });

  describe('exec isolation', () => {
    it('passes no descriptor the server inherited open from its own parent into a workspace: not to its processes, not to exec\'s', async () => {
      const { code, out, err } = await runWithStrayFd('stray-fd-workspace.ts');
      expect(code, err).to.equal(0);
      expect(out.replace(/\r/g, '')).to.equal('looked\nlooked\n');
    });

    /** nsenter, a child of this process: runs as root until it drops to the run's uid. */
    const nsenterChildren = () =>
      readdirSync(`/proc/${process.pid}/task`).flatMap((task) => readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nsenter';
        } catch {
          return false;
        }
      });
    const allCommandLines = () =>
      readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`);
        } catch {
          return Buffer.alloc(0);
        }
      });

    for (const tty of [false, true]) {
      it(`gives nsenter (root until it drops) an empty environment, and no value reaches a command line (${tty ? 'terminal' : 'plain'})`, async () => {
        const handle = await start(spec({ env: [{ name: 'LD_PRELOAD', value: '/home/job/evil.so' }, { name: 'PLAIN', value: PLAIN_VALUE }], secretEnv: [{ name: 'SECRET', value: Buffer.from(SECRET_VALUE), secretName: 's', version: 1 }] }));
        const running = await backend.exec(handle, { command: ['/bin/sh', '-c', 'echo "ready $LD_PRELOAD"; exec sleep 1000'], tty });
        const run = collect(running);
        await run.waitFor('ready /home/job/evil.so');
        const [nsenter] = nsenterChildren();
        expect(nsenter, 'nsenter is running').to.not.equal(undefined);
        expect(readFileSync(`/proc/${nsenter}/environ`).length).to.equal(0);
        for (const cmdline of allCommandLines()) {
          expect(cmdline.includes(Buffer.from(SECRET_VALUE.slice(0, 20)))).to.equal(false);
          expect(cmdline.includes(Buffer.from(PLAIN_VALUE))).to.equal(false);
        }
        running.kill();
        await run.done;
      });

      it(`runs the command as the run's uid and gid, with no supplementary group, no capability and no_new_privs (${tty ? 'terminal' : 'plain'})`, async () => {
        const handle = await start(spec());
        const result = await exec(handle, ['/bin/sh', '-c', 'grep -E "^(Uid|Gid|Groups|CapEff|CapPrm|NoNewPrivs):" /proc/self/status /proc/1/status'], { tty });
        const facts = (who: string) => Object.fromEntries(result.stdout.split(/\r?\n/).filter((l) => l.startsWith(`/proc/${who}/status:`)).map((l) => l.slice(`/proc/${who}/status:`.length).split(':\t')).map(([k, v]) => [k, v.trim()]));
        const self = facts('self');
        const main = facts('1');
        const uid = String(await uidOf(handle));
        expect(self).to.deep.equal({ Uid: `${uid}\t${uid}\t${uid}\t${uid}`, Gid: `${uid}\t${uid}\t${uid}\t${uid}`, Groups: '', CapPrm: '0000000000000000', CapEff: '0000000000000000', NoNewPrivs: '1' });
        expect(uid).to.not.equal('0');
        // As the run's own processes are.
        expect(main).to.deep.equal(self);
      });
    }

    it('shows the command its workspace\'s processes and files, and nothing of the host or of another workspace', async () => {
      const other = await start(spec({ command: 'echo other > other-file; exec sleep 1000' }));
      const handle = await start(spec({ command: 'echo mine > my-file; exec sleep 1001' }));
      await until('the main command to write its file', async () => ((await sh(handle, 'cat my-file 2>/dev/null')).stdout === 'mine\n' ? true : undefined));
      const root = (await exec(handle, ['/bin/ls', '-A', '/'])).stdout.split('\n').filter(Boolean);
      expect(root).to.have.members(['dev', 'etc', 'home', 'proc', 'run', 'tmp', 'usr', ...hostLayout().systemLinks.map((l) => l.path.slice(1))]);
      const processes = (await exec(handle, ['/bin/ps', '-eo', 'args'])).stdout;
      expect(processes).to.include('sleep 1001');
      expect(processes).to.not.include('sleep 1000');
      const seen = await sh(handle, `for p in '${dataDir}' '${homeRoot}' '${filesRoot}' /home/job/other-file; do test -e "$p" && echo "SEES $p"; done; ls -A /home`);
      expect(seen.stdout).to.equal('job\n');
      await backend.stop(other);
    });
  });

  describe('secret files', () => {
    const FILES = [file('/run/secrets/tls/key.pem', PEM), file('/home/job/.config/bin.dat', BINARY)];

    it('mounts each file byte for byte, 0400, the run\'s own, memory-backed and read-only', async () => {
      const handle = await start(spec({ secretFiles: FILES }));
      const uid = String(await uidOf(handle));
      for (const f of FILES) {
        const read = await exec(handle, ['/usr/bin/od', '-An', '-v', '-tx1', f.path]);
        expect(Buffer.from(read.stdout.replace(/\s+/g, ''), 'hex').equals(Buffer.from(f.value)), f.path).to.equal(true);
        const facts = await sh(handle, `stat -L -c '%a %u %g' '${f.path}'; stat -L -f -c '%T' '${f.path}'`);
        expect(facts.stdout).to.equal(`400 ${uid} ${uid}\ntmpfs\n`);
        const write = await sh(handle, `echo tampered > '${f.path}'`);
        expect(write.code).to.not.equal(0);
        expect(write.stderr).to.match(/Read-only file system|Permission denied/);
        const chmod = await sh(handle, `chmod 600 '${f.path}'`);
        expect(chmod.code).to.not.equal(0);
        expect(chmod.stderr).to.match(/Read-only file system|Operation not permitted/);
        const replace = await sh(handle, `rm -f '${f.path.startsWith('/run/') ? f.path : `/run/vessl/home-secrets/.config/bin.dat`}'`);
        expect(replace.code).to.not.equal(0);
      }
      // Nothing of a value anywhere on disk the server or the workspace writes to.
      for (const dir of [homeRoot, dataDir]) {
        expect(await filesHolding(dir, Buffer.from(PEM)), dir).to.deep.equal([]);
        expect(await filesHolding(dir, BINARY.subarray(8)), dir).to.deep.equal([]);
      }
    });

    it('keeps a workspace\'s files from another workspace\'s uid', async () => {
      const handle = await start(spec({ secretFiles: FILES }));
      const other = await start(spec());
      const otherUid = await uidOf(other);
      const hostFiles = await filesUnder(filesRoot);
      expect(hostFiles.length).to.be.greaterThan(0);
      for (const hostFile of hostFiles) {
        const read = spawnSync('/bin/cat', [hostFile], { uid: otherUid, gid: otherUid, env: {}, encoding: 'utf8' });
        expect(read.status, hostFile).to.not.equal(0);
        expect(read.stderr).to.match(/Permission denied/);
      }
      await backend.stop(handle);
    });

    for (const filePath of ['/run/secrets/rotating', '/home/job/rotating']) {
      it(`rewrites ${filePath} while the workspace runs: no reader ever sees it missing or partial`, async () => {
        const size = 65536;
        const values = [Buffer.alloc(size, 'A'), Buffer.alloc(size, 'B')];
        const handle = await start(spec({ secretFiles: [file(filePath, values[0])] }));
        const reader = await backend.exec(handle, {
          command: ['/bin/sh', '-c', `i=0; echo reading; while [ ! -e /tmp/stop ]; do v=$(head -c 1 '${filePath}'; wc -c < '${filePath}'); case "$v" in A${size}|B${size}) ;; *) echo "BAD[$v]";; esac; i=$((i+1)); done; echo "reads $i"`],
          tty: false,
        });
        const run = collect(reader);
        await run.waitFor('reading');
        for (let i = 1; i <= 301; i++) await backend.writeFile(handle, file(filePath, values[i % 2], i + 1));
        await sh(handle, 'touch /tmp/stop');
        const result = await run.done;
        expect(result.stdout).to.not.include('BAD');
        expect(Number(/reads (\d+)/.exec(result.stdout)?.[1])).to.be.greaterThan(0);
        expect((await exec(handle, ['/usr/bin/head', '-c', '1', filePath])).stdout).to.equal('B');
      });

      it(`removes ${filePath} at once, and leaves no file behind when the run stops`, async () => {
        const handle = await start(spec({ secretFiles: [file(filePath, 'value')] }));
        await backend.removeFile(handle, filePath);
        expect((await sh(handle, `test -e '${filePath}' || test -L '${filePath}' || echo gone`)).stdout).to.equal('gone\n');
        await backend.removeFile(handle, filePath); // idempotent
        await backend.writeFile(handle, file(filePath, 'again', 2));
        expect((await exec(handle, ['/bin/cat', filePath])).stdout).to.equal('again');
        await backend.stop(handle);
        await expectNoRunFiles();
      });
    }

    it('re-checks a path before writing it', async () => {
      const handle = await start(spec());
      for (const bad of ['/etc/passwd', '/run/secrets/../x', '/home/job/a/../../b', 'relative']) {
        const err = await backend.writeFile(handle, file(bad, 'x')).then(() => undefined, (e: unknown) => e as Error);
        expect(err?.name, bad).to.equal('BackendError');
      }
      await backend.stop(handle);
    });
  });

  describe('opening', () => {
    /** A backend of its own on `roots`, closed (and its roots removed) by the test. */
    const open = (roots: { homeRoot: string; filesRoot: string }, options: Partial<LocalWorkspaceBackendOptions> = {}) =>
      createLocalWorkspaceBackend({ dataDir, ...roots, uids: { first: 2_100_000_000 + Math.floor(Math.random() * 100_000) * 64, count: 64 }, stopGraceMs: 1000, ...options });
    const freshRoots = () => ({ homeRoot: path.join(tmpdir(), `vessl-ws-homes-${randomBytes(6).toString('hex')}`), filesRoot: path.join('/dev/shm', `vessl-ws-files-${randomBytes(6).toString('hex')}`) });
    const removeRoots = async (roots: { homeRoot: string; filesRoot: string }) => {
      await rm(roots.homeRoot, { recursive: true, force: true });
      await rm(roots.filesRoot, { recursive: true, force: true });
    };

    it('keeps the homes of an earlier server, and removes the secret files it left', async () => {
      const roots = freshRoots();
      try {
        const first = open(roots);
        const s = spec({ secretFiles: [file('/run/secrets/left', 'left-behind')] });
        const { ref } = await first.start(s);
        const running = await first.exec({ org: s.org, workspaceId: s.workspaceId, run: 1, ref }, { command: ['/bin/sh', '-c', 'echo kept > notes'], tty: false });
        running.closeStdin();
        expect((await running.exit).code).to.equal(0);
        const uid = await uidOfIn(first, { org: s.org, workspaceId: s.workspaceId, run: 1, ref });
        await first.close();
        expect(processesOf(uid), 'close() ended the run').to.deep.equal([]);
        // close() removed the run's files; a killed server leaves them: put some back as it would.
        await mkdir(path.join(roots.filesRoot, 'w_crashedcrashed00-1'), { recursive: true });
        await writeFile(path.join(roots.filesRoot, 'w_crashedcrashed00-1', 'value'), 'left-behind');
        const second = open(roots);
        try {
          expect(await readdir(roots.filesRoot)).to.deep.equal([]);
          const { ref: ref2 } = await second.start({ ...s, run: 2, secretFiles: [] });
          const handle = { org: s.org, workspaceId: s.workspaceId, run: 2, ref: ref2 };
          const read = await second.exec(handle, { command: ['/bin/cat', 'notes'], tty: false });
          const out = collect(read);
          read.closeStdin();
          expect((await out.done).stdout).to.equal('kept\n');
        } finally {
          await second.close();
        }
      } finally {
        await removeRoots(roots);
      }
    });

    it('refuses a terminal, naming the fix, when python3 is missing; a plain exec does not need it', async () => {
      const roots = freshRoots();
      const other = open(roots, { ttyPython: '/usr/bin/no-such-python3' });
      try {
        const s = spec();
        const { ref } = await other.start(s);
        const handle = { org: s.org, workspaceId: s.workspaceId, run: 1, ref };
        const err = await other.exec(handle, { command: ['true'], tty: true }).then(() => undefined, (e: unknown) => e as Error & { reason?: string; publicMessage?: string });
        expect(err?.name).to.equal('BackendPreconditionError');
        expect(err?.reason).to.equal('TERMINAL_UNAVAILABLE');
        expect(err?.publicMessage).to.match(/needs python3 .*\/usr\/bin\/no-such-python3.*apt-get install/);
        const plain = await other.exec(handle, { command: ['true'], tty: false });
        plain.closeStdin();
        expect((await plain.exit).code).to.equal(0);
      } finally {
        await other.close();
        await removeRoots(roots);
      }
    });

    it('refuses secret files, saying why, when the files root is not memory-backed', async function () {
      const onDisk = { homeRoot: path.join(tmpdir(), `vessl-ws-homes-${randomBytes(6).toString('hex')}`), filesRoot: path.join(dataDir, 'files') };
      if ([0x01021994, 0x858458f6].includes(statfsSync(dataDir).type)) this.skip(); // the data dir's disk is memory here
      const other = open(onDisk);
      try {
        expect(other.secretFiles?.refusal).to.match(/memory-backed directory \(tmpfs\)/);
        const err = await other.start(spec({ secretFiles: [file('/run/secrets/x', 'x')] })).then(() => undefined, (e: unknown) => e as Error & { reason?: string });
        expect(err?.reason).to.equal('SECRET_FILES_UNSUPPORTED');
      } finally {
        await other.close();
        await removeRoots(onDisk);
      }
    });
  });

  /** The memory-backed root holds no run's files. */
  async function expectNoRunFiles(): Promise<void> {
    expect(await readdir(filesRoot)).to.deep.equal([]);
  }
});

/** Every regular file under `dir` (not following links). */
async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(full)));
    else if (entry.isFile()) found.push(full);
  }
  return found;
}

/** Every regular file under `dir` whose bytes hold `needle`. */
async function filesHolding(dir: string, needle: Uint8Array): Promise<string[]> {
  const found: string[] = [];
  for (const full of await filesUnder(dir)) if ((await readFile(full).catch(() => Buffer.alloc(0))).includes(Buffer.from(needle))) found.push(full);
  return found;
}
