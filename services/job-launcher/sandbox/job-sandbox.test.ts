import { expect } from 'chai';
import { chmod, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { until } from '../../../test/support/until.js';
import { TERMINAL_STATES, type AttemptSpec, type JobBackend } from '../backend.js';
import { createLocalBackend } from '../backends/local.js';
import { bubblewrapArguments, FIRST_FILE_FD, hostLayout, joinedOutputCommand, SANDBOX_HOME } from './bubblewrap.js';
import { DEFAULT_UIDS, JobSandbox, SandboxUnavailableError, UNSANDBOXED_WARNING, type SandboxSettings } from './job-sandbox.js';

/** The sandbox room: the exact bwrap arguments, the refusals at start, the network switch and the unsafe opt-out. */

describe('job sandbox', function () {
  this.timeout(60_000);
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'vessl-sandbox-'));
    // Jobs' uids pass through it to their work dirs (as through the default work root's parent).
    await chmod(root, 0o711);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const settings = (overrides: Partial<SandboxSettings> = {}): SandboxSettings => ({ kind: 'bubblewrap', network: 'shared', workRoot: path.join(root, 'work'), uids: DEFAULT_UIDS, ...overrides });

  describe('bubblewrap arguments', () => {
    const attempt = { command: 'echo hi', env: { HF_TOKEN: 'hf-secret-value', PATH: '/usr/bin:/bin' }, workDir: '/tmp/w', network: 'shared' as const, layout: hostLayout() };

    it('makes every namespace, forbids nested user namespaces, and ends with its parent', () => {
      const { options } = bubblewrapArguments(attempt);
      expect(options.slice(0, 3)).to.deep.equal(['--unshare-all', '--unshare-user', '--disable-userns']);
      expect(options).to.include.members(['--share-net', '--die-with-parent', '--new-session', '--clearenv']);
    });

    it('shares the network only when asked to', () => {
      expect(bubblewrapArguments({ ...attempt, network: 'isolated' }).options).to.not.include('--share-net');
    });

    it('binds /usr and /etc read-only and the work dir at HOME, and nothing else of the host', () => {
      const { options } = bubblewrapArguments(attempt);
      const binds: string[][] = [];
      options.forEach((arg, i) => {
        if (arg === '--bind' || arg === '--ro-bind') binds.push([arg, options[i + 1], options[i + 2]]);
      });
      const writable = binds.filter(([kind]) => kind === '--bind');
      expect(writable).to.deep.equal([['--bind', '/tmp/w', SANDBOX_HOME]]);
      for (const [, source] of binds.filter(([kind]) => kind === '--ro-bind')) expect(source).to.match(/^\/(usr|etc|bin|sbin|lib\w*)$/);
    });

    it('puts the environment in the options (for --args), never on the command line', () => {
      const { options, command } = bubblewrapArguments(attempt);
      expect(options.join('\0')).to.include('--setenv\0HF_TOKEN\0hf-secret-value');
      expect(command.join(' ')).to.not.include('hf-secret-value');
      expect(command).to.deep.equal(joinedOutputCommand('echo hi'));
    });

    it('mounts each secret file read-only at 0400 from its own fd, after HOME (so HOME\'s files land on top of it)', () => {
      const { options } = bubblewrapArguments({ ...attempt, filePaths: ['/run/secrets/a', '/home/job/.ssh/id'] });
      const home = options.indexOf(SANDBOX_HOME);
      const first = options.indexOf('--ro-bind-data');
      expect(first).to.be.greaterThan(home);
      expect(options.slice(first - 2, first + 8)).to.deep.equal(['--perms', '0400', '--ro-bind-data', String(FIRST_FILE_FD), '/run/secrets/a', '--perms', '0400', '--ro-bind-data', String(FIRST_FILE_FD + 1), '/home/job/.ssh/id']);
    });
  });

  describe('refusals at start', () => {
    it('refuses to start without bwrap on PATH, saying how to fix it', () => {
      const saved = process.env.PATH;
      process.env.PATH = path.join(root, 'no-such-dir');
      try {
        expect(() => JobSandbox.open(settings())).to.throw(SandboxUnavailableError, /needs bubblewrap.*apt-get install bubblewrap.*--unsafe-no-job-sandbox/);
      } finally {
        process.env.PATH = saved;
      }
    });

    it('refuses a work root that the jobs\' uids cannot reach, naming the directory in the way', async function () {
      if (process.getuid?.() !== 0) this.skip(); // only a root server gives jobs uids of their own
      await chmod(root, 0o700);
      expect(() => JobSandbox.open(settings())).to.throw(SandboxUnavailableError, new RegExp(`${root} is not searchable by others`));
    });

    for (const dir of ['/usr/local/vessl-jobs', '/etc/vessl', '/lib/x']) {
      it(`refuses a work root or data dir under a directory every job sees (${dir})`, () => {
        expect(() => JobSandbox.open(settings({ workRoot: dir }))).to.throw(SandboxUnavailableError, /which every job sees/);
        expect(() => JobSandbox.open(settings(), [dir])).to.throw(SandboxUnavailableError, /which every job sees/);
      });
    }

    it('refuses a work root that is a link (someone else could point it anywhere)', async () => {
      await symlink(root, path.join(root, 'link'));
      expect(() => JobSandbox.open(settings({ workRoot: path.join(root, 'link') }))).to.throw(SandboxUnavailableError, /is not a directory owned by this server's user/);
    });
  });

  describe('on the local backend', () => {
    let backend: JobBackend | undefined;
    let listener: Server | undefined;
    afterEach(async () => {
      await backend?.close();
      backend = undefined;
      await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
      listener = undefined;
    });

    let counter = 0;
    const spec = (command: string): AttemptSpec => ({ org: 'acme', jobId: `j_sandbox_${++counter}`, attempt: 1, jobName: 'probe', image: '', command, env: [], secretEnv: [] });
    async function runToEnd(on: JobBackend, command: string): Promise<string> {
      const s = spec(command);
      const { ref } = await on.launch(s);
      const handle = { org: s.org, jobId: s.jobId, attempt: 1, ref };
      await until('the job to end', async () => (TERMINAL_STATES.includes((await on.status(handle)).state) ? true : undefined));
      return readFile(path.join(root, 'data', 'jobs', s.jobId, 'attempt-1.log'), 'utf8');
    }
    /** A job that tries to reach a TCP port of this process on the host's loopback. */
    async function connectCommand(): Promise<string> {
      listener = createServer((socket) => socket.end());
      await new Promise<void>((resolve) => listener!.listen(0, '127.0.0.1', resolve));
      const port = (listener.address() as { port: number }).port;
      return `/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}), 5); print('CONNECTED')" 2>/dev/null || echo REFUSED`;
    }

    const network: { mode: 'shared' | 'isolated'; expected: string }[] = [
      { mode: 'shared', expected: 'CONNECTED' },
      { mode: 'isolated', expected: 'REFUSED' },
    ];
    for (const n of network) {
      it(`${n.mode === 'shared' ? 'lets a job reach' : 'keeps a job from'} the host's loopback with the network ${n.mode}`, async () => {
        backend = createLocalBackend({ dataDir: path.join(root, 'data'), sandbox: settings({ network: n.mode }) });
        expect((await runToEnd(backend, await connectCommand())).trim()).to.equal(n.expected);
      });
    }

    it('warns about the unsafe opt-out, whose jobs run with the host\'s view of the files', async () => {
      backend = createLocalBackend({ dataDir: path.join(root, 'data'), sandbox: settings({ kind: 'none' }) });
      expect(backend.warnings).to.deep.equal([UNSANDBOXED_WARNING]);
      const log = await runToEnd(backend, `echo "$HOME"; test -d "${root}" && echo SEES-HOST-FILES; id -u`);
      expect(log).to.include('SEES-HOST-FILES');
      expect(log.split('\n')[0].startsWith(path.join(root, 'work'))).to.equal(true);
      // Never a root shell: as root, the server still gives each job a uid of its own.
      if (process.getuid?.() === 0) expect(Number(log.trim().split('\n').at(-1))).to.be.at.least(DEFAULT_UIDS.first);
    });

    it('gives no warning when jobs are sandboxed', () => {
      backend = createLocalBackend({ dataDir: path.join(root, 'data'), sandbox: settings() });
      expect(backend.warnings).to.deep.equal([]);
    });
  });
});
