import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureLog } from '../../../test/support/log-capture.js';
import { runWithStrayFd } from '../../../test/support/stray-fd.js';
import { until } from '../../../test/support/until.js';
import { BackendError, TERMINAL_STATES, type AttemptHandle, type AttemptSpec, type AttemptStatus, type JobBackend, type ReservedAttempt } from '../backend.js';
import { createLocalBackend, JOB_PATH, RESTARTED_MESSAGE, SPAWNER_LOST_MESSAGE } from './local.js';
import { SANDBOX_HOME } from '../sandbox/bubblewrap.js';
import { defaultWorkRoot } from '../sandbox/job-sandbox.js';
import { JobSpawner, SpawnError } from './job-spawner.js';

/** The local backend runs real child processes: what they see, what reaches the log, how they end. */

const TOKEN = 'hf_Zq8sX0vLw3TkR9pN';

let dataDir: string;
let backend: JobBackend;
let jobCounter = 0;

function spec(command: string, overrides: Partial<AttemptSpec> = {}): AttemptSpec {
  jobCounter += 1;
  return { org: 'acme', jobId: `j_${jobCounter.toString(16).padStart(16, '0')}`, attempt: 1, jobName: 'train', image: '', command, env: [], secretEnv: [], ...overrides };
}

const secret = (name: string, value: string | Uint8Array) => ({ name, value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value, secretName: name.toLowerCase(), version: 1 });

async function launch(s: AttemptSpec, on: JobBackend = backend): Promise<AttemptHandle> {
  const { ref } = await on.launch(s);
  return { org: s.org, jobId: s.jobId, attempt: s.attempt, ref };
}

async function waitForEnd(handle: AttemptHandle, on: JobBackend = backend): Promise<AttemptStatus> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(20)) {
    const status = await on.status(handle);
    if (TERMINAL_STATES.includes(status.state)) return status;
  }
  throw new Error(`attempt ${handle.jobId} did not end`);
}

const logFileOf = (handle: AttemptHandle) => path.join(dataDir, 'jobs', handle.jobId, `attempt-${handle.attempt}.log`);
const attemptDirOf = (handle: AttemptHandle) => path.join(dataDir, 'jobs', handle.jobId, `attempt-${handle.attempt}`);
/** Work dirs in use, on the host (each attempt's HOME, at SANDBOX_HOME inside its sandbox). */
const workDirs = () => readdir(defaultWorkRoot(dataDir)).catch(() => []);

/** Runs a command to its end and returns the log file's bytes. */
async function run(command: string, overrides: Partial<AttemptSpec> = {}): Promise<{ log: Buffer; status: AttemptStatus; handle: AttemptHandle }> {
  const handle = await launch(spec(command, overrides));
  const status = await waitForEnd(handle);
  return { log: await readFile(logFileOf(handle)), status, handle };
}

async function collect(iterable: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).to.equal('ESRCH');
    return false;
  }
}

async function expectNoJobDir(jobId: string): Promise<void> {
  await stat(path.join(dataDir, 'jobs', jobId)).then(
    () => expect.fail('the job directory is there'),
    (e: NodeJS.ErrnoException) => expect(e.code).to.equal('ENOENT'),
  );
}

/** As the job launcher does: reserve() that throws leaves the whole work (and the error) to launch(). */
function reserveAsTheLauncherDoes(s: AttemptSpec): ReservedAttempt | undefined {
  try {
    return backend.reserve!(s.jobId, s.attempt);
  } catch {
    return undefined;
  }
}

async function launchError(s: AttemptSpec): Promise<BackendError> {
  try {
    await backend.launch(s);
  } catch (err) {
    expect(err).to.be.instanceOf(BackendError);
    return err as BackendError;
  }
  return expect.fail('launch succeeded');
}

describe('local backend', function () {
  this.timeout(60_000);

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'vessl-local-backend-'));
    backend = createLocalBackend({ dataDir, terminateGraceMs: 1000 });
  });

  afterEach(async () => {
    await backend.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('environment', () => {
    it('passes a job no descriptor the server inherited open from its own parent, only its stdio', async () => {
      const { code, out, err } = await runWithStrayFd('stray-fd-job.ts');
      expect(code, err).to.equal(0);
      // 0-2, and 3: the directory ls reads /proc/self/fd through.
      expect(out.trim().split(/\s+/).map(Number).sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3]);
      expect(out).to.not.include('STRAY-OPEN');
    });

    it('gives the job a minimal environment and none of the server’s variables', async () => {
      process.env.VESSL_TEST_PARENT_SECRET = 'parent-secret-value';
      try {
        const { log, status, handle } = await run('env', { env: [{ name: 'EPOCHS', value: '3' }] });
        expect(status.state).to.equal('SUCCEEDED');
        const seen = new Map(
          log
            .toString('utf8')
            .trim()
            .split('\n')
            .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
        );
        expect(seen.get('PATH')).to.equal(JOB_PATH);
        expect(seen.get('HOME')).to.equal(SANDBOX_HOME);
        expect(seen.get('LANG')).to.equal('C.UTF-8');
        expect(seen.get('VESSL_JOB_ID')).to.equal(handle.jobId);
        expect(seen.get('VESSL_JOB_ATTEMPT')).to.equal('1');
        expect(seen.get('EPOCHS')).to.equal('3');
        // The shell itself adds PWD; nothing else may appear.
        expect([...seen.keys()].sort()).to.deep.equal(['EPOCHS', 'HOME', 'LANG', 'PATH', 'PWD', 'VESSL_JOB_ATTEMPT', 'VESSL_JOB_ID']);
        expect(log.toString('utf8')).to.not.include('parent-secret-value');
      } finally {
        delete process.env.VESSL_TEST_PARENT_SECRET;
      }
    });

    it('gives the job the secret value itself', async () => {
      const { log } = await run(`printf '%s' "$HF_TOKEN" | sha256sum`, { secretEnv: [secret('HF_TOKEN', TOKEN)] });
      expect(log.toString('utf8')).to.include(createHash('sha256').update(TOKEN).digest('hex'));
    });

    it('gives the job a UTF-8 secret unchanged', async () => {
      const value = 'pässwörd-✓';
      const { log } = await run(`printf '%s' "$PASSWORD" | sha256sum`, { secretEnv: [secret('PASSWORD', value)] });
      expect(log.toString('utf8')).to.include(createHash('sha256').update(value, 'utf8').digest('hex'));
    });

    it('runs the job in a fresh private directory, removed when it ends', async () => {
      const { log, handle } = await run(`pwd; ls -A | wc -l; printf '%s' "$HF_TOKEN" > token`, { secretEnv: [secret('HF_TOKEN', TOKEN)] });
      expect(log.toString('utf8').split('\n').slice(0, 2)).to.deep.equal([SANDBOX_HOME, '0']);
      expect((await stat(attemptDirOf(handle))).mode & 0o777).to.equal(0o700);
      // Tools cache credentials under HOME: nothing the job wrote outlives it.
      expect(await workDirs()).to.deep.equal([]);
    });

    const refused: { name: string; overrides: Partial<AttemptSpec>; message: RegExp }[] = [
      { name: 'a secret with a NUL byte', overrides: { secretEnv: [secret('HF_TOKEN', 'abc\0def')] }, message: /^secret for HF_TOKEN holds a NUL byte and cannot be an environment variable$/ },
      { name: 'a secret that is not UTF-8', overrides: { secretEnv: [secret('BLOB', Buffer.from([0xff, 0xfe, 0x41]))] }, message: /secret for BLOB is not UTF-8/ },
      { name: 'a plain value with a NUL byte', overrides: { env: [{ name: 'MODE', value: 'a\0b' }] }, message: /MODE holds a NUL byte/ },
      { name: 'a name starting with a digit', overrides: { env: [{ name: '1ABC', value: 'x' }] }, message: /"1ABC" is not a valid environment variable name/ },
      { name: 'a name with a dash', overrides: { secretEnv: [secret('HF-TOKEN', TOKEN)] }, message: /"HF-TOKEN" is not a valid/ },
      { name: 'a name with =', overrides: { env: [{ name: 'A=B', value: 'x' }] }, message: /"A=B" is not a valid/ },
      { name: 'an empty name', overrides: { env: [{ name: '', value: 'x' }] }, message: /"" is not a valid/ },
      { name: 'a name set twice', overrides: { env: [{ name: 'HF_TOKEN', value: 'x' }], secretEnv: [secret('HF_TOKEN', TOKEN)] }, message: /HF_TOKEN is set twice/ },
      { name: 'a job id that is a path', overrides: { jobId: '../escape' }, message: /invalid job id/ },
      { name: 'attempt 0', overrides: { attempt: 0 }, message: /invalid attempt number/ },
      { name: 'a command the shell cannot be given (NUL byte)', overrides: { command: 'echo a\0b' }, message: /^the job process could not be started$/ },
    ];
    for (const c of refused) {
      for (const reserved of [false, true]) {
        it(`refuses ${c.name}, leaving nothing behind${reserved ? ', also with its files made ahead' : ''}`, async () => {
          const s = spec('echo should-not-run', c.overrides);
          if (reserved) reserveAsTheLauncherDoes(s);
          const err = await launchError(s);
          expect(err.publicMessage).to.match(c.message);
          expect(err.message).to.not.include(TOKEN);
          await expectNoJobDir(s.jobId);
        });
      }
    }

    it('refuses to launch an attempt twice', async () => {
      const s = spec('sleep 5');
      await launch(s);
      expect((await launchError(s)).publicMessage).to.match(/already exists/);
    });
  });

  describe('files made ahead (reserve)', () => {
    it('runs a reserved attempt like any other, in the directories made for it', async () => {
      const s = spec(`pwd; printf '%s' "$HF_TOKEN" | wc -c`, { secretEnv: [secret('HF_TOKEN', TOKEN)] });
      const reserved = backend.reserve!(s.jobId, s.attempt);
      const handle = await launch(s);
      expect((await waitForEnd(handle)).state).to.equal('SUCCEEDED');
      expect((await readFile(logFileOf(handle), 'utf8')).split('\n').slice(0, 2)).to.deep.equal([SANDBOX_HOME, String(TOKEN.length)]);
      expect((await stat(logFileOf(handle))).mode & 0o777).to.equal(0o600);
      // launch() took what was made: cancelling now leaves the attempt and its log alone.
      await reserved.cancel();
      expect((await stat(logFileOf(handle))).isFile()).to.equal(true);
      expect((await backend.status(handle)).state).to.equal('SUCCEEDED');
    });

    it('cancel() removes what was made, whether or not it was finished, and may be called again', async () => {
      for (const waitFirst of [false, true]) {
        const s = spec('true');
        const reserved = backend.reserve!(s.jobId, s.attempt);
        if (waitFirst) await sleep(50);
        await reserved.cancel();
        await reserved.cancel();
        await expectNoJobDir(s.jobId);
        // The attempt can still be launched: it makes its files itself.
        expect((await waitForEnd(await launch(s))).state).to.equal('SUCCEEDED');
      }
    });

    it('keeps the other attempts of a job when cancelling one', async () => {
      const first = await launch(spec('true'));
      await waitForEnd(first);
      const reserved = backend.reserve!(first.jobId, 2);
      await reserved.cancel();
      expect((await readdir(path.join(dataDir, 'jobs', first.jobId))).sort()).to.deep.equal(['attempt-1', 'attempt-1.log']);
    });

    it('refuses to reserve an attempt twice, or one that is running', async () => {
      const s = spec('sleep 5');
      backend.reserve!(s.jobId, s.attempt);
      expect(() => backend.reserve!(s.jobId, s.attempt)).to.throw(BackendError, /already exists/);
      await launch(s);
      expect(() => backend.reserve!(s.jobId, s.attempt)).to.throw(BackendError, /already exists/);
    });

    it('fails the launch of an attempt whose directory exists already, and leaves that directory alone', async () => {
      const s = spec('echo should-not-run');
      const attemptDir = path.join(dataDir, 'jobs', s.jobId, 'attempt-1');
      await mkdir(path.join(attemptDir, 'work'), { recursive: true });
      await writeFile(path.join(attemptDir, 'status.json'), '{"state":"SUCCEEDED"}');
      backend.reserve!(s.jobId, s.attempt);
      expect((await launchError(s)).publicMessage).to.match(/^attempt 1 of job j_\w+ already exists$/);
      expect(await readFile(path.join(attemptDir, 'status.json'), 'utf8')).to.equal('{"state":"SUCCEEDED"}');
    });

    it('close() removes what was reserved, and refuses to reserve more', async () => {
      const jobs = [spec('true'), spec('true')];
      for (const s of jobs) backend.reserve!(s.jobId, s.attempt);
      await backend.close();
      for (const s of jobs) await expectNoJobDir(s.jobId);
      expect(() => backend.reserve!('j_after_close', 1)).to.throw(BackendError, /shutting down/);
    });
  });

  describe('log masking', () => {
    const masked: { name: string; command: string; value?: string }[] = [
      { name: 'a secret printed by the job', command: `printf 'token=%s\\n' "$HF_TOKEN"` },
      { name: 'a secret printed to stderr', command: `printf 'token=%s\\n' "$HF_TOKEN" >&2` },
      { name: 'a secret printed in pieces, with a pause between', command: `printf 'hf_Zq8sX'; sleep 0.3; printf '0vLw3TkR9pN\\n'` },
      { name: 'a secret split between stdout and stderr', command: `printf 'x hf_Zq8sX'; sleep 0.2; printf '0vLw3TkR9pN y\\n' >&2` },
      { name: 'a secret printed many times', command: `for i in 1 2 3 4 5 6 7 8 9 10; do printf '%s%s' "$HF_TOKEN" "$HF_TOKEN"; done; echo` },
      { name: 'the base64 of a secret', command: `printf '%s' "$HF_TOKEN" | base64` },
      { name: 'the base64url of a secret', command: `printf '%s' "$HF_TOKEN" | base64 | tr '+/' '-_' | tr -d '='` },
      { name: 'the base64 of text containing a secret', command: `printf 'user:%s\\n' "$HF_TOKEN" | base64` },
      { name: 'a secret at the very end of the output, without a newline', command: `echo start; printf '%s' "$HF_TOKEN"` },
    ];
    for (const c of masked) {
      it(`masks ${c.name} before it reaches the disk`, async () => {
        const { log, status } = await run(c.command, { secretEnv: [secret('HF_TOKEN', TOKEN)] });
        expect(status.state).to.equal('SUCCEEDED');
        const text = log.toString('latin1');
        expect(text).to.include('***');
        expect(text).to.not.include(TOKEN);
        expect(text).to.not.include(Buffer.from(TOKEN).toString('base64').slice(0, 20));
        expect(text).to.not.include(Buffer.from(TOKEN).toString('base64url').slice(0, 20));
      });
    }

    // A value long enough that its base64 wraps, and a multi-line one (a PEM key), through real tools.
    const LONG = `wandb_${'k3Y9'.repeat(40)}_end`;
    const PEM = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7', 'q8sX0vLw3TkR9pNhf3kd9sLq0aZ', '-----END PRIVATE KEY-----', ''].join('\n');
    /** The lines of `command`'s output (from `text` for the value) that must not survive: each 16 characters or longer. */
    const wrapped = (value: string, columns: number, alphabet: 'base64' | 'base64url') =>
      (Buffer.from(value).toString(alphabet).match(new RegExp(`.{1,${columns}}`, 'g')) ?? []).filter((line) => line.length >= 16);
    const forms: { name: string; command: string; value: string; gone: string[] }[] = [
      { name: 'base64 wrapped at 76 columns (coreutils base64)', command: `printf '%s' "$V" | base64`, value: LONG, gone: wrapped(LONG, 76, 'base64') },
      { name: 'base64 wrapped at 64 columns (PEM, openssl)', command: `printf '%s' "$V" | base64 -w 64`, value: LONG, gone: wrapped(LONG, 64, 'base64') },
      { name: 'base64url wrapped at 76 columns (basenc)', command: `printf '%s' "$V" | basenc --base64url`, value: LONG, gone: wrapped(LONG, 76, 'base64url') },
      { name: 'base64 with CRLF line ends', command: `printf '%s' "$V" | base64 | sed 's/$/\r/'`, value: LONG, gone: wrapped(LONG, 76, 'base64') },
      { name: 'each line of a multi-line value, printed line by line', command: `printf '%s' "$V" | while IFS= read -r line; do echo "> $line"; done`, value: PEM, gone: PEM.split('\n').filter((line) => line.length >= 4) },
    ];
    for (const c of forms) {
      it(`masks ${c.name}`, async () => {
        const { log, status } = await run(c.command, { secretEnv: [secret('V', c.value)] });
        expect(status.state).to.equal('SUCCEEDED');
        const text = log.toString('latin1');
        expect(text).to.include('***');
        for (const form of c.gone) expect(text, text).to.not.include(form);
      });
    }

    it('keeps the order in which the job wrote to stdout and stderr (one stream, as a terminal shows it)', async () => {
      const { log } = await run('echo a; echo b >&2; echo c; echo d >&2; printf e >&2; echo f');
      expect(log.toString('utf8')).to.equal('a\nb\nc\nd\nef\n');
    });

    for (const size of [20, 2048, 65_536]) {
      it(`shows a line the job printed while it stays quiet (a ${size}-byte secret injected)`, async () => {
        const value = Buffer.alloc(size, 'x').map((_, i) => 0x41 + (i % 26));
        const handle = await launch(spec('echo READY; sleep 600', { secretEnv: [secret('BIG', value)] }));
        try {
          // The masker holds back only what could still begin a masked form: nothing of "READY\n".
          await until('READY in the log while the job sleeps', async () => ((await readFile(logFileOf(handle), 'utf8')) === 'READY\n' ? true : undefined));
          expect((await backend.status(handle)).state).to.equal('RUNNING');
        } finally {
          await backend.terminate(handle);
        }
      });
    }

    it('keeps output order and unmasked text intact', async () => {
      const { log } = await run(`echo one; sleep 0.1; echo "two $HF_TOKEN three" >&2; sleep 0.1; echo four`, { secretEnv: [secret('HF_TOKEN', TOKEN)] });
      expect(log.toString('utf8')).to.equal('one\ntwo *** three\nfour\n');
    });

    it('masks every injected secret', async () => {
      const { log } = await run(`echo "$A / $B"`, { secretEnv: [secret('A', 'first-secret'), secret('B', 'second-secret')] });
      expect(log.toString('utf8')).to.equal('*** / ***\n');
    });

    it('leaves a value shorter than 4 bytes alone', async () => {
      const { log } = await run(`echo "pin=$PIN"`, { secretEnv: [secret('PIN', '123')] });
      expect(log.toString('utf8')).to.equal('pin=123\n');
    });

    it('does not mask plain variables', async () => {
      const { log } = await run(`echo "$MODEL"`, { env: [{ name: 'MODEL', value: 'llama-3-8b' }] });
      expect(log.toString('utf8')).to.equal('llama-3-8b\n');
    });

    it('writes the log readable by the server only', async () => {
      const { handle } = await run('echo hi');
      expect((await stat(logFileOf(handle))).mode & 0o777).to.equal(0o600);
    });
  });

  describe('status', () => {
    const outcomes: { command: string; state: AttemptStatus['state']; exitCode?: number; message?: string }[] = [
      { command: 'true', state: 'SUCCEEDED', exitCode: 0 },
      { command: 'exit 3', state: 'FAILED', exitCode: 3, message: 'exited with code 3' },
      { command: 'no-such-command-xyz', state: 'FAILED', exitCode: 127, message: 'exited with code 127' },
      // Sandboxed, a signal's end reaches the server as bwrap reports it: 128 + the signal's number.
      { command: 'kill -KILL $$', state: 'FAILED', exitCode: 137, message: 'exited with code 137 (as on SIGKILL)' },
      { command: 'kill -TERM $$', state: 'FAILED', exitCode: 143, message: 'exited with code 143 (as on SIGTERM)' },
    ];
    for (const o of outcomes) {
      it(`reports ${o.state}${o.message ? ` (${o.message})` : ''} for \`${o.command}\``, async () => {
        const before = new Date();
        const { status } = await run(o.command);
        expect(status.state).to.equal(o.state);
        expect(status.exitCode).to.equal(o.exitCode);
        expect(status.message).to.equal(o.message);
        expect(status.startTime!.getTime()).to.be.at.least(before.getTime());
        expect(status.endTime!.getTime()).to.be.at.least(status.startTime!.getTime());
      });
    }

    it('is RUNNING once launched (launch says so), then tells listeners the outcome', async () => {
      const seen: { attempt: number; state: string }[] = [];
      backend.onStateChange!((h, st) => seen.push({ attempt: h.attempt, state: st.state }));
      const s = spec('sleep 0.3; exit 1');
      const { ref, status } = await backend.launch(s);
      expect(status?.state).to.equal('RUNNING');
      expect(status?.startTime).to.be.instanceOf(Date);
      const handle = { org: s.org, jobId: s.jobId, attempt: s.attempt, ref };
      expect((await backend.status(handle)).state).to.equal('RUNNING');
      await waitForEnd(handle);
      expect(seen).to.deep.equal([{ attempt: 1, state: 'FAILED' }]);
    });

    it('uses the injected clock', async () => {
      const fixed = new Date('2030-01-02T03:04:05Z');
      const clocked = createLocalBackend({ dataDir, now: () => fixed });
      try {
        const handle = await launch(spec('true'), clocked);
        const status = await waitForEnd(handle, clocked);
        expect(status.startTime).to.deep.equal(fixed);
        expect(status.endTime).to.deep.equal(fixed);
      } finally {
        await clocked.close();
      }
    });

    it('keeps an ended attempt out of memory: its outcome is read from its status file, also by a restarted server', async () => {
      const s = spec('echo before; exit 3');
      const handle = await launch(s);
      const ended = await waitForEnd(handle);
      expect(ended).to.include({ state: 'FAILED', exitCode: 3, message: 'exited with code 3' });
      const statusFile = path.join(dataDir, 'jobs', s.jobId, 'attempt-1', 'status.json');
      for (let i = 0; i < 40 && !(await stat(statusFile).then(() => true, () => false)); i++) await sleep(50);
      expect(JSON.parse(await readFile(statusFile, 'utf8'))).to.include({ state: 'FAILED', exitCode: 3 });
      // The file is what answers now: change it, and the answer changes.
      await writeFile(statusFile, JSON.stringify({ ...ended, message: 'from the file' }));
      expect(await backend.status(handle)).to.deep.equal({ ...ended, message: 'from the file' });
      // A file that is not what the backend writes is an error that says so, not a crash.
      await writeFile(statusFile, '{"state":"SUCC');
      const unreadable = await backend.status(handle).then(
        () => expect.fail('read a cut-short status file'),
        (e: unknown) => e,
      );
      expect(unreadable).to.be.instanceOf(BackendError);
      expect((unreadable as BackendError).publicMessage).to.equal('the job status could not be read');
      await writeFile(statusFile, JSON.stringify(ended));
      const restarted = createLocalBackend({ dataDir });
      try {
        expect(await restarted.status(handle)).to.deep.equal(ended);
        expect(await collect(restarted.logs(handle, { follow: true }))).to.equal('before\n');
        await restarted.terminate(handle);
      } finally {
        await restarted.close();
      }
      expect((await launchError(s)).publicMessage).to.match(/already exists/);
    });

    it('says FAILED, restart the job, for an attempt run by a server that restarted', async () => {
      const s = spec('echo from-before; sleep 100');
      const handle = await launch(s);
      await sleep(200);
      // A new backend over the same data directory knows nothing of the running process.
      const restarted = createLocalBackend({ dataDir });
      try {
        expect(await restarted.status(handle)).to.deep.equal({ state: 'FAILED', message: RESTARTED_MESSAGE });
        expect(await collect(restarted.logs(handle, { follow: true }))).to.equal('from-before\n');
        await restarted.terminate(handle);
      } finally {
        await restarted.close();
      }
    });

    it('does not know an attempt that never ran', async () => {
      const handle = { org: 'acme', jobId: 'j_never', attempt: 1, ref: '1' };
      for (const call of [() => backend.status(handle), () => backend.terminate(handle), () => collect(backend.logs(handle, { follow: false }))]) {
        const err = await call().then(
          () => expect.fail('accepted an unknown attempt'),
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(BackendError);
        expect((err as BackendError).publicMessage).to.match(/unknown attempt 1 of job j_never/);
      }
    });
  });

  describe('terminate', () => {
    it('kills the whole process tree and reports CANCELLED', async () => {
      const handle = await launch(spec('sleep 100 & sleep 100; wait'));
      const pgid = Number(handle.ref);
      await sleep(200);
      expect(groupExists(pgid)).to.equal(true);
      await backend.terminate(handle);
      expect(groupExists(pgid)).to.equal(false);
      const status = await backend.status(handle);
      expect(status).to.include({ state: 'CANCELLED', message: 'terminated' });
      expect(status.endTime).to.be.instanceOf(Date);
    });

    it('kills a job that ignores SIGTERM once the grace period is over', async () => {
      const handle = await launch(spec(`trap '' TERM; sleep 100 & sleep 100; wait`));
      await sleep(200);
      const started = Date.now();
      await backend.terminate(handle);
      expect(Date.now() - started).to.be.at.least(900);
      expect(groupExists(Number(handle.ref))).to.equal(false);
      expect((await backend.status(handle)).state).to.equal('CANCELLED');
    });

    it('is idempotent, also after the attempt ended by itself', async () => {
      const running = await launch(spec('sleep 100'));
      await Promise.all([backend.terminate(running), backend.terminate(running)]);
      await backend.terminate(running);
      expect((await backend.status(running)).state).to.equal('CANCELLED');

      const { handle } = await run('exit 0');
      await backend.terminate(handle);
      expect((await backend.status(handle)).state).to.equal('SUCCEEDED');
    });

    it('ends what the job left running in the background when it exits', async () => {
      const { handle, status } = await run('sleep 100 & echo started');
      expect(status.state).to.equal('SUCCEEDED');
      expect(groupExists(Number(handle.ref))).to.equal(false);
    });

    it('close() ends every running attempt and refuses new ones', async () => {
      const handles = [await launch(spec('sleep 100')), await launch(spec('sleep 100 & sleep 100; wait'))];
      await backend.close();
      for (const handle of handles) {
        expect(groupExists(Number(handle.ref))).to.equal(false);
        expect((await backend.status(handle)).state).to.equal('CANCELLED');
      }
      expect((await launchError(spec('true'))).publicMessage).to.match(/shutting down/);
    });
  });

  describe('job spawner', () => {
    /** The helper processes that start this test process's jobs (one per backend). */
    async function spawnerPids(): Promise<number[]> {
      const pids: number[] = [];
      for (const entry of await readdir('/proc')) {
        const pid = Number(entry);
        if (!Number.isInteger(pid)) continue;
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid !== process.pid) continue;
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.includes('job-spawner-main')) pids.push(pid);
      }
      return pids;
    }

    /** The helper of the shared backend (the only one while no test makes another). */
    async function spawnerPid(): Promise<number> {
      return (await spawnerPids())[0] ?? expect.fail('no job spawner process');
    }

    it('hands the env over in memory: the spawner has none of it in its own env, arguments or files', async () => {
      const handle = await launch(spec('sleep 100', { secretEnv: [secret('HF_TOKEN', TOKEN)] }));
      const pid = await spawnerPid();
      // Only what Node sets up for the IPC channel itself.
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean);
      expect(environ.every((e) => e.startsWith('NODE_CHANNEL_')), environ.join(' ')).to.equal(true);
      expect(await readFile(`/proc/${pid}/cmdline`, 'utf8')).to.not.include(TOKEN);
      // Beyond stderr (the server's own), only /dev/null, pipes, sockets and anonymous inodes: never a file.
      for (const fd of (await readdir(`/proc/${pid}/fd`)).filter((n) => n !== '2')) {
        const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        expect(target.startsWith('/') && target !== '/dev/null', `fd ${fd} -> ${target}`).to.equal(false);
      }
      await backend.terminate(handle);
    });

    it('does not pass its channel to the server on to a job', async () => {
      const { log } = await run('for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && readlink "$fd"; done; true');
      expect(log.toString()).to.not.include('socket:');
    });

    it('reports the jobs of a spawner that died as FAILED, ends their processes, and starts a new spawner', async () => {
      const seen: string[] = [];
      backend.onStateChange!((h, st) => seen.push(`${h.jobId}:${st.state}:${st.message}`));
      const handle = await launch(spec('sleep 100 & sleep 100; wait'));
      const pgid = Number(handle.ref);
      const first = await spawnerPid();
      process.kill(first, 'SIGKILL');
      const status = await waitForEnd(handle);
      expect(status).to.include({ state: 'FAILED', message: SPAWNER_LOST_MESSAGE });
      expect(seen).to.deep.equal([`${handle.jobId}:FAILED:${SPAWNER_LOST_MESSAGE}`]);
      expect(groupExists(pgid)).to.equal(false);

      const { log, status: next } = await run('echo after');
      expect(next.state).to.equal('SUCCEEDED');
      expect(log.toString()).to.equal('after\n');
      expect(await spawnerPid()).to.not.equal(first);
    });

    it('fails a launch cleanly when the spawner dies before the shell starts', async () => {
      const pid = await spawnerPid();
      process.kill(pid, 'SIGSTOP');
      const s = spec('echo never');
      const launching = backend.launch(s).then(
        () => expect.fail('launched'),
        (err: unknown) => err,
      );
      await sleep(100);
      process.kill(pid, 'SIGKILL');
      const err = await launching;
      expect(err).to.be.instanceOf(BackendError);
      expect(await stat(path.join(dataDir, 'jobs', s.jobId)).then(() => 'exists', () => 'gone')).to.equal('gone');
      expect((await run('true')).status.state).to.equal('SUCCEEDED');
    });

    /** The spawner a new backend or JobSpawner started (one not among `others`), stopped with SIGSTOP. */
    async function stoppedNewSpawner(others: number[]): Promise<number> {
      let helper: number | undefined;
      for (let i = 0; i < 100 && helper === undefined; i++, await sleep(50)) helper = (await spawnerPids()).find((pid) => !others.includes(pid));
      expect(helper, 'a new spawner started').to.be.a('number');
      process.kill(helper!, 'SIGSTOP');
      return helper!;
    }

    it('fails a launch whose shell has not started within the spawn timeout, leaving nothing behind', async () => {
      const others = await spawnerPids();
      const { log, find } = captureLog('local-backend-test');
      // Long enough for a sandbox to start on a loaded machine once the helper runs again.
      const slow = createLocalBackend({ dataDir, terminateGraceMs: 1000, spawnTimeoutMs: 2000, log });
      try {
        const helper = await stoppedNewSpawner(others);
        const s = spec('sleep 101.25');
        const err = await slow.launch(s).then(
          () => expect.fail('launched'),
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(BackendError);
        expect((err as BackendError).publicMessage).to.equal('the job process could not be started');
        expect(await stat(path.join(dataDir, 'jobs', s.jobId)).then(() => 'exists', () => 'gone')).to.equal('gone');
        expect(find('the job spawner did not start a shell in time; the launch failed')).to.not.equal(undefined);
        // The helper goes on; the next launch works.
        process.kill(helper, 'SIGCONT');
        const next = await launch(spec('true'), slow);
        expect((await waitForEnd(next, slow)).state).to.equal('SUCCEEDED');
      } finally {
        await slow.close();
      }
    });

    it('kills a shell that the spawner starts after its launch timed out', async () => {
      const others = await spawnerPids();
      const { log, find, lines } = captureLog('local-backend-test');
      const spawner = new JobSpawner(log, 300);
      spawner.warmUp();
      const cwd = await mkdtemp(path.join(tmpdir(), 'vessl-late-'));
      try {
        const helper = await stoppedNewSpawner(others);
        const err = await spawner.spawn({ file: '/bin/sh', args: ['-c', 'sleep 101.5'], cwd, env: { PATH: JOB_PATH } }).then(
          () => expect.fail('spawned'),
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(SpawnError);
        expect((err as SpawnError).code).to.equal('ETIMEDOUT');
        process.kill(helper, 'SIGCONT');
        let late: { pid?: unknown } | undefined;
        for (let i = 0; i < 100 && !late; i++, await sleep(50)) late = find('killed a job shell that started after its launch had timed out');
        expect(late?.pid, lines.join('')).to.be.a('number');
        const pid = late!.pid as number;
        for (let i = 0; i < 40 && groupExists(pid); i++) await sleep(50);
        expect(groupExists(pid)).to.equal(false);
      } finally {
        await spawner.close();
        await rm(cwd, { recursive: true, force: true });
      }
    });

    it('passes large output through in order, with the job held back rather than output dropped', async () => {
      const { log, status } = await run('i=0; while [ $i -lt 3000 ]; do echo "line $i of some longer output to fill the pipes"; i=$((i+1)); done; echo done >&2');
      expect(status.state).to.equal('SUCCEEDED');
      const expected = Array.from({ length: 3000 }, (_, i) => `line ${i} of some longer output to fill the pipes\n`).join('') + 'done\n';
      expect(log.toString() === expected, 'every line once, in order').to.equal(true);
    });
  });

  describe('logs', () => {
    const tails: { output: string; tailLines: number | undefined; expected: string }[] = [
      { output: 'one\\ntwo\\nthree\\nfour\\n', tailLines: undefined, expected: 'one\ntwo\nthree\nfour\n' },
      { output: 'one\\ntwo\\nthree\\nfour\\n', tailLines: 0, expected: 'one\ntwo\nthree\nfour\n' },
      { output: 'one\\ntwo\\nthree\\nfour\\n', tailLines: 2, expected: 'three\nfour\n' },
      { output: 'one\\ntwo\\nthree\\nfour', tailLines: 2, expected: 'three\nfour' },
      { output: 'one\\ntwo\\n', tailLines: 5, expected: 'one\ntwo\n' },
      { output: 'one\\n\\n\\nfour\\n', tailLines: 2, expected: '\nfour\n' },
      { output: '', tailLines: 3, expected: '' },
    ];
    for (const t of tails) {
      it(`gives the last ${t.tailLines ?? 'all'} lines of ${JSON.stringify(t.output)}`, async () => {
        const { handle } = await run(`printf '${t.output}'`);
        expect(await collect(backend.logs(handle, { follow: false, tailLines: t.tailLines }))).to.equal(t.expected);
      });
    }

    it('gives the last lines of a log longer than one read block', async () => {
      const { handle } = await run(`i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done`);
      expect(await collect(backend.logs(handle, { follow: false, tailLines: 3 }))).to.equal('line 19997\nline 19998\nline 19999\n');
      expect((await collect(backend.logs(handle, { follow: false }))).split('\n')).to.have.length(20001);
    });

    it('follows output produced after the call and ends when the process exits', async () => {
      const handle = await launch(spec(`echo first; sleep 0.5; echo "second $HF_TOKEN"; sleep 0.3; echo third`, { secretEnv: [secret('HF_TOKEN', TOKEN)] }));
      const text = await collect(backend.logs(handle, { follow: true }));
      expect(text).to.equal('first\nsecond ***\nthird\n');
      expect((await backend.status(handle)).state).to.equal('SUCCEEDED');
    });

    it('follows from the last lines', async () => {
      const handle = await launch(spec(`printf 'a\\nb\\nc\\n'; sleep 0.5; echo d`));
      await sleep(250);
      expect(await collect(backend.logs(handle, { follow: true, tailLines: 1 }))).to.equal('c\nd\n');
    });

    it('stops following when the client goes away', async () => {
      const handle = await launch(spec('echo hello; sleep 100'));
      let gone = false;
      setTimeout(() => (gone = true), 400);
      const started = Date.now();
      expect(await collect(backend.logs(handle, { follow: true, cancelled: () => gone }))).to.equal('hello\n');
      expect(Date.now() - started).to.be.below(5000);
      expect((await backend.status(handle)).state).to.equal('RUNNING');
    });

    it('without follow gives what is there now', async () => {
      const handle = await launch(spec('echo now; sleep 100'));
      await sleep(300);
      expect(await collect(backend.logs(handle, { follow: false }))).to.equal('now\n');
    });
  });
});
