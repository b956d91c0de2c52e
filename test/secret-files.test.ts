import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Job_State, type Job } from '../services/gen/vessl/jobs/v1/jobs.js';
import { MAX_ATTEMPT_SECRET_BYTES } from '../services/runtime/sealed-value.js';
import { engines } from './support/postgres.js';
import { digestBytes, fileFacts, printFileFacts } from './support/chaos.js';
import { failure, startTestSystem, type JobClient, type SecretClient, type TestSystem } from './support/system.js';
import { until } from './support/until.js';

/**
 * `--secret-file PATH=NAME` end to end on the local backend, through the real services: the
 * value arrives byte for byte as a read-only 0400 file of the job's user on a tmpfs; GetJob,
 * where-used, stale markers and the audit log treat it as they treat a variable; the log masks
 * it; no file of the data dir holds it.
 */

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDfileSecretPemLineThree000000000000000000000000000000000\n-----END OPENSSH PRIVATE KEY-----\n';
// A DER-like blob: NUL bytes and bytes that are not UTF-8. No variable can carry it; a file can.
const BINARY = Buffer.from([0x30, 0x82, 0x00, 0x00, 0xff, 0xfe, 0x00, ...Buffer.from('binary-file-secret-middle'), 0x00, 0x0a, 0x80]);
const TERMINAL = [Job_State.STATE_SUCCEEDED, Job_State.STATE_FAILED, Job_State.STATE_CANCELLED];

/** Files under `dir` holding `needle` (the data dir's SQLite files, logs, status files). */
function filesHolding(dir: string, needle: Buffer): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesHolding(full, needle);
    return entry.isFile() && statSync(full).size < 64 * 1024 * 1024 && readFileSync(full).includes(needle) ? [full] : [];
  });
}

for (const engine of engines()) {
  describe(`secrets as files, on the local backend (${engine.name})`, function () {
    let sys: TestSystem;
    let secrets: SecretClient;
    let jobs: JobClient;

    const finished = (id: string) =>
      until(`job ${id} to end`, async () => {
        const job = await jobs.getJob({ org: 'acme', id });
        return TERMINAL.includes(job.state) ? job : undefined;
      });
    const logOf = (job: Job) => readFileSync(path.join(sys.dataDir, 'jobs', job.id, 'attempt-1.log'), 'utf8');
    const create = (name: string, command: string, refs: { secretName: string; filePath?: string; envName?: string }[]) =>
      jobs.createJob({ org: 'acme', job: { name, image: 'x', command, env: [], secrets: refs.map((r) => ({ envName: '', filePath: '', ...r })) } });

    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
      secrets = sys.secrets(await sys.token('admin'));
      jobs = sys.jobs(await sys.token('member'));
      await secrets.createSecret({ org: 'acme', secret: { name: 'ssh-key', key: 'SSH_KEY' }, value: await sys.seal(PEM) });
      await secrets.createSecret({ org: 'acme', secret: { name: 'der-blob', key: 'DER_BLOB' }, value: await sys.seal(BINARY) });
      await secrets.createSecret({ org: 'acme', secret: { name: 'HF_TOKEN' }, value: await sys.seal('hf-file-test-value') });
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('mounts a PEM key and a binary value byte for byte: 0400, the job\'s own, read-only, on tmpfs; GetJob lists them', async () => {
      const paths = ['/home/job/.ssh/id_ed25519', '/run/secrets/der/blob.der'];
      const { job, warnings } = await create('files', printFileFacts(paths), [
        { secretName: 'ssh-key', filePath: paths[0] },
        { secretName: 'der-blob', filePath: paths[1] },
        { secretName: 'HF_TOKEN' },
      ]);
      expect(warnings).to.deep.equal([]);
      const done = await finished(job!.id);
      expect(done.state).to.equal(Job_State.STATE_SUCCEEDED);
      const facts = fileFacts(logOf(done));
      expect(facts.get(paths[0])?.sha256).to.equal(digestBytes(Buffer.from(PEM)));
      expect(facts.get(paths[1])?.sha256).to.equal(digestBytes(BINARY));
      for (const p of paths) {
        expect(facts.get(p), p).to.include({ mode: '400', fs: 'tmpfs', write: 'refused', chmod: 'refused' });
        expect(facts.get(p)!.owner).to.equal(facts.get(p)!.me);
      }
      expect(done.secrets).to.deep.include({ secretName: 'ssh-key', envName: '', filePath: paths[0] });
      expect(done.attempts[0].secrets.map((s) => [s.secretName, s.envName, s.filePath, s.version, s.stale])).to.deep.equal([
        // Bytewise by variable, then by path: files (no variable) first.
        ['ssh-key', '', paths[0], 1, false],
        ['der-blob', '', paths[1], 1, false],
        ['HF_TOKEN', 'HF_TOKEN', '', 1, false],
      ]);
      expect(await jobs.getJob({ org: 'acme', id: done.id })).to.deep.equal(done);
    });

    it('audits each file as secret.referenced "as file PATH", a variable as "as env NAME"', async () => {
      const { job } = await create('audited', 'true', [{ secretName: 'ssh-key', filePath: '/run/secrets/id' }, { secretName: 'HF_TOKEN' }]);
      await finished(job!.id);
      const audit = sys.secrets(await sys.token('admin'));
      const events = (await audit.listAuditEvents({ org: 'acme', pageSize: 1000, action: 'secret.referenced' })).events.filter((e) => e.details.job === job!.id);
      expect(Object.fromEntries(events.map((e) => [e.secretName, e.details.as]))).to.deep.equal({ 'ssh-key': 'file /run/secrets/id', HF_TOKEN: 'env HF_TOKEN' });
      expect(events.every((e) => /^[0-9a-f]{64}$/.test(e.details.fingerprint))).to.equal(true);
    });

    it('masks a file\'s value in the log like a variable\'s, and no file of the data dir holds it', async () => {
      const { job } = await create('masked', 'cat /run/secrets/key; printf "\\nb64: %s\\n" "$(base64 -w0 /run/secrets/key)"; cat /run/secrets/blob', [
        { secretName: 'ssh-key', filePath: '/run/secrets/key' },
        { secretName: 'der-blob', filePath: '/run/secrets/blob' },
      ]);
      const done = await finished(job!.id);
      const log = logOf(done);
      expect(log).to.include('***').and.include('b64: ***');
      for (const needle of [Buffer.from(PEM.split('\n')[1]), Buffer.from(Buffer.from(PEM).toString('base64').slice(0, 40)), BINARY.subarray(7, 32)]) {
        expect(filesHolding(sys.dataDir, needle), needle.toString('latin1')).to.deep.equal([]);
      }
    });

    it('marks a file stale after a rotation, lists its job as a user of the secret, and restart mounts the new value', async () => {
      await secrets.createSecret({ org: 'acme', secret: { name: 'kubeconfig', key: 'KUBECONFIG_DATA' }, value: await sys.seal('apiVersion: v1 # first') });
      const { job } = await create('rotating', 'sleep 600', [{ secretName: 'kubeconfig', filePath: '/home/job/.kube/config' }]);
      try {
        await secrets.updateSecret({ org: 'acme', secret: { name: 'kubeconfig' }, value: await sys.seal('apiVersion: v1 # second'), updateMask: ['value'] });
        const shown = await jobs.getJob({ org: 'acme', id: job!.id });
        expect(shown.attempts[0].secrets[0]).to.include({ filePath: '/home/job/.kube/config', version: 1, currentVersion: 2, stale: true });
        expect((await jobs.listJobs({ org: 'acme', secretName: 'kubeconfig' })).jobs.map((j) => j.id)).to.deep.equal([job!.id]);
        const restarted = await jobs.restartJob({ org: 'acme', id: job!.id });
        expect(restarted.job!.attempts[1].secrets[0]).to.include({ filePath: '/home/job/.kube/config', version: 2, stale: false });
      } finally {
        await jobs.terminateJob({ org: 'acme', id: job!.id });
      }
    });

    it(`refuses an attempt whose secrets hold more than ${MAX_ATTEMPT_SECRET_BYTES / 1024} KiB together before anything is audited, and takes one just under`, async () => {
      const big = (i: number) => Buffer.alloc(64 * 1024 - 64, 0x61 + i);
      for (let i = 0; i < 9; i++) await secrets.createSecret({ org: 'acme', secret: { name: `big-${i}`, key: `BIG_${i}` }, value: await sys.seal(big(i)) });
      const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ secretName: `big-${i}`, filePath: `/run/secrets/big-${i}` }));
      const audited = async () => Number((await sys.db('secret-store')('secret_audit_events').where({ action: 'secret.referenced' }).count({ n: '*' }).first())?.n);
      const before = await audited();
      const jobsBefore = (await jobs.listJobs({ org: 'acme', pageSize: 1000 })).jobs.length;
      const refused = await failure(create('too-big', 'true', refs(9)));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.match(/the 9 secrets this attempt would get hold 5\d\d KiB together; an attempt can get at most 512 KiB/);
      expect(await audited()).to.equal(before);
      expect((await jobs.listJobs({ org: 'acme', pageSize: 1000 })).jobs).to.have.length(jobsBefore);
      const { job } = await create('just-under', 'wc -c /run/secrets/big-* | tail -n 1', refs(7));
      expect((await finished(job!.id)).state).to.equal(Job_State.STATE_SUCCEEDED);
      expect(logOf(job!)).to.include(`${7 * (64 * 1024 - 64)} total`);
    });

    it('takes as a file a value that cannot be a variable (NUL bytes), and still refuses it as one', async () => {
      const asVariable = await failure(create('as-env', 'true', [{ secretName: 'der-blob' }]));
      expect(asVariable.code).to.equal('FAILED_PRECONDITION');
      const { job } = await create('as-file', 'test -s /run/secrets/der', [{ secretName: 'der-blob', filePath: '/run/secrets/der' }]);
      expect((await finished(job!.id)).state).to.equal(Job_State.STATE_SUCCEEDED);
    });
  });
}

describe('secrets as files without a sandbox (--unsafe-no-job-sandbox)', function () {
  let sys: TestSystem;
  before(async () => {
    sys = await startTestSystem({ sandbox: { kind: 'none' } });
    await sys.secrets(await sys.token('admin')).createSecret({ org: 'acme', secret: { name: 'ssh-key', key: 'SSH_KEY' }, value: await sys.seal(PEM) });
  });
  after(async () => {
    await sys?.stop();
  });

  it('refuses a job that asks for a file, saying why, before any secret is read, audited or run', async () => {
    const jobs = sys.jobs(await sys.token('member'));
    const auditBefore = await sys.db('secret-store')('secret_audit_events').count({ n: '*' }).first();
    const got = await failure(jobs.createJob({ org: 'acme', job: { name: 'f', image: 'x', command: 'true', env: [], secrets: [{ secretName: 'ssh-key', envName: '', filePath: '/run/secrets/id' }] } }));
    expect(got.code).to.equal('FAILED_PRECONDITION');
    expect(got.message).to.match(/secrets as files need the job sandbox.*--secret/);
    expect((await jobs.listJobs({ org: 'acme' })).jobs).to.deep.equal([]);
    expect(await sys.db('secret-store')('secret_audit_events').count({ n: '*' }).first()).to.deep.equal(auditBefore);
  });
});
