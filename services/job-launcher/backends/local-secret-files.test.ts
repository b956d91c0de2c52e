import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { digestBytes, fileFacts, printFileFacts } from '../../../test/support/chaos.js';
import { until } from '../../../test/support/until.js';
import { BackendError, BackendPreconditionError, TERMINAL_STATES, type AttemptHandle, type AttemptSpec, type JobBackend, type SecretFileEntry } from '../backend.js';
import { defaultWorkRoot } from '../sandbox/job-sandbox.js';
import { createLocalBackend } from './local.js';

/** Secrets as files on the local backend: byte-exact, 0400, the job's own, memory-backed, never on the host's disk. */

const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// NUL bytes, bytes that are not UTF-8, a trailing newline: nothing an environment variable can carry.
const BINARY = Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x00, 0x7f, 0x80, 0x0a, ...Buffer.from('binary-secret-tail-0123456789'), 0x00]);

const file = (filePath: string, value: string | Uint8Array, secretName = 'key'): SecretFileEntry => ({ path: filePath, value: typeof value === 'string' ? Buffer.from(value) : value, secretName, version: 1 });

/** Every regular file under `dir` (not following links) whose bytes hold `needle`. */
async function filesHolding(dir: string, needle: Uint8Array): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesHolding(full, needle)));
    else if (entry.isFile() && (await readFile(full).catch(() => Buffer.alloc(0))).includes(Buffer.from(needle))) found.push(full);
  }
  return found;
}

describe('local backend: secrets as files', function () {
  this.timeout(60_000);
  let dataDir: string;
  let backend: JobBackend;
  let counter = 0;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'vessl-secret-files-'));
    backend = createLocalBackend({ dataDir, terminateGraceMs: 1000 });
  });
  afterEach(async () => {
    await backend.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const spec = (command: string, secretFiles: SecretFileEntry[]): AttemptSpec => ({
    org: 'acme',
    jobId: `j_${(++counter).toString(16).padStart(16, 'f')}`,
    attempt: 1,
    jobName: 'files',
    image: '',
    command,
    env: [],
    secretEnv: [],
    secretFiles,
  });
  const logOf = (s: AttemptSpec) => readFile(path.join(dataDir, 'jobs', s.jobId, 'attempt-1.log'), 'utf8');
  async function run(s: AttemptSpec): Promise<{ log: string; handle: AttemptHandle }> {
    const { ref } = await backend.launch(s);
    const handle = { org: s.org, jobId: s.jobId, attempt: 1, ref };
    await until('the job to end', async () => (TERMINAL_STATES.includes((await backend.status(handle)).state) ? true : undefined));
    return { log: await logOf(s), handle };
  }

  it('mounts a PEM key and a binary value byte for byte, read-only, 0400, owned by the job, on tmpfs', async () => {
    const paths = ['/run/secrets/tls/key.pem', '/home/job/.config/blob.bin'];
    const { log } = await run(spec(printFileFacts(paths), [file(paths[0], PEM, 'tls-key'), file(paths[1], BINARY, 'blob')]));
    const facts = fileFacts(log);
    expect(facts.get(paths[0])?.sha256).to.equal(digestBytes(Buffer.from(PEM)));
    expect(facts.get(paths[1])?.sha256).to.equal(digestBytes(BINARY));
    for (const p of paths) {
      const f = facts.get(p)!;
      expect(f, p).to.include({ mode: '400', fs: 'tmpfs', write: 'refused', chmod: 'refused' });
      expect(f.owner, `${p} is the job's`).to.equal(f.me);
    }
  });

  it('keeps the value off the host\'s disk while the job runs (work root and data dir scanned)', async () => {
    const s = spec('echo READY; sleep 600', [file('/home/job/.ssh/id_ed25519', PEM), file('/run/secrets/blob', BINARY, 'blob')]);
    const { ref } = await backend.launch(s);
    const handle = { org: s.org, jobId: s.jobId, attempt: 1, ref };
    try {
      await until('the job to run', async () => ((await logOf(s)) === 'READY\n' ? true : undefined));
      for (const root of [defaultWorkRoot(dataDir), dataDir]) {
        expect(await filesHolding(root, Buffer.from(PEM.split('\n')[1])), root).to.deep.equal([]);
        expect(await filesHolding(root, BINARY.subarray(8, 30)), root).to.deep.equal([]);
      }
      // Under HOME only an empty mount point is left in the work dir (removed with it).
      const [workDir] = await readdir(defaultWorkRoot(dataDir));
      expect((await lstat(path.join(defaultWorkRoot(dataDir), workDir, '.ssh', 'id_ed25519'))).size).to.equal(0);
    } finally {
      await backend.terminate(handle);
    }
  });

  it('leaves the job no fd of the pipes that carried the values (bwrap closes them once copied)', async () => {
    const { log } = await run(spec('for fd in 3 4 5 6 7 8 9; do [ -e "/proc/$$/fd/$fd" ] && echo "OPEN-FD-$fd"; done; echo DONE', [file('/run/secrets/a', 'value-a'), file('/run/secrets/b', 'value-b', 'b')]));
    expect(log).to.equal('DONE\n');
  });

  it('masks a file\'s value in the log like a variable\'s', async () => {
    const { log } = await run(spec('cat /run/secrets/token; echo; base64 /run/secrets/token', [file('/run/secrets/token', 'file-secret-value-42')]));
    expect(log).to.not.include('file-secret-value-42');
    expect(log).to.not.include(Buffer.from('file-secret-value-42').toString('base64'));
    expect(log).to.include('***');
  });

  const refused: { name: string; files: SecretFileEntry[]; message: RegExp }[] = [
    { name: 'a relative path', files: [file('run/secrets/a', 'v')], message: /is not an absolute path/ },
    { name: 'a path outside the roots', files: [file('/etc/passwd', 'v')], message: /is not under \/run\/secrets\/ or \/home\/job\// },
    { name: 'a path with ..', files: [file('/run/secrets/../../etc/x', 'v')], message: /"\." or "\.\." segment/ },
    { name: 'a root itself', files: [file('/run/secrets', 'v')], message: /is not under/ },
    { name: 'one path twice', files: [file('/run/secrets/a', 'v'), file('/run/secrets/a', 'w', 'other')], message: /one file per path/ },
    { name: 'a path inside another', files: [file('/run/secrets/a', 'v'), file('/run/secrets/a/b', 'w', 'other')], message: /one inside the other/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}, leaving nothing behind`, async () => {
      const s = spec('echo should-not-run', c.files);
      const err = await backend.launch(s).then(
        () => expect.fail('launched'),
        (e: unknown) => e as BackendError,
      );
      expect(err).to.be.instanceOf(BackendError);
      expect(err.publicMessage).to.match(c.message);
      expect(await readdir(path.join(dataDir, 'jobs')).catch(() => [])).to.deep.equal([]);
      expect(await readdir(defaultWorkRoot(dataDir))).to.deep.equal([]);
    });
  }

  it('refuses files without a sandbox (--unsafe-no-job-sandbox), saying why, before anything is made', async () => {
    await chmod(dataDir, 0o711); // a root server's job uids pass through it to the unsafe work root
    const unsafe = createLocalBackend({ dataDir: path.join(dataDir, 'unsafe'), sandbox: { kind: 'none', workRoot: path.join(dataDir, 'unsafe-work') } });
    try {
      expect(unsafe.secretFiles?.refusal).to.match(/need the job sandbox/);
      const err = await unsafe.launch(spec('echo should-not-run', [file('/run/secrets/a', 'v')])).then(
        () => expect.fail('launched'),
        (e: unknown) => e as BackendPreconditionError,
      );
      expect(err).to.be.instanceOf(BackendPreconditionError);
      expect(err.reason).to.equal('SECRET_FILES_UNSUPPORTED');
      expect(await readdir(path.join(dataDir, 'unsafe', 'jobs')).catch(() => [])).to.deep.equal([]);
      expect(await readdir(path.join(dataDir, 'unsafe-work'))).to.deep.equal([]);
    } finally {
      await unsafe.close();
    }
  });
});
