import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Job_State, type Job } from '../services/gen/vessl/jobs/v1/jobs.js';
import { engines } from './support/postgres.js';
import { digest, envDigests, PRINT_ENV_DIGESTS } from './support/chaos.js';
import { failure, startTestSystem, type JobClient, type SecretClient, type TestSystem } from './support/system.js';
import { until } from './support/until.js';

const TERMINAL = [Job_State.STATE_SUCCEEDED, Job_State.STATE_FAILED, Job_State.STATE_CANCELLED];

/** A job command that prints the SHA-256 of `$NAME` every 0.1 s (a sandboxed job writes no host file; its log masks the value itself). */
const printDigestForever = (name: string) => `while true; do printf "%s" "$${name}" | sha256sum | cut -c1-64; sleep 0.1; done`;

const logFile = (sys: TestSystem, job: Job, attempt = 1) => path.join(sys.dataDir, 'jobs', job.id, `attempt-${attempt}.log`);

for (const engine of engines()) {
  describe(`jobs with secrets injected, on the local backend (${engine.name})`, function () {
    let sys: TestSystem;
    let secrets: SecretClient;
    let jobs: JobClient;
    let memberJobs: JobClient;
    let memberToken: string;

    const jobDirs = () => (existsSync(path.join(sys.dataDir, 'jobs')) ? readdirSync(path.join(sys.dataDir, 'jobs')).sort() : []);
    const finished = (id: string) =>
      until(`job ${id} to end`, async () => {
        const job = await jobs.getJob({ org: 'acme', id });
        return TERMINAL.includes(job.state) ? job : undefined;
      });

    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
      secrets = sys.secrets(await sys.token('admin'));
      jobs = sys.jobs(await sys.token('admin'));
      memberToken = await sys.token('member');
      memberJobs = sys.jobs(memberToken);
      const create = async (name: string, value: string, key?: string) =>
        secrets.createSecret({ org: 'acme', secret: { name, key }, value: await sys.seal(value) });
      await create('HF_TOKEN', 'hf-value-0001');
      await create('wandb', 'wandb-value-0002', 'WANDB_API_KEY');
      await create('db.url', 'postgres://user:pw@db/x', 'DATABASE_URL');
      await create('OTHER_HF', 'other-hf-0003', 'HF_TOKEN');
      await create('GONE', 'gone-value-0004');
      await secrets.deleteSecret({ org: 'acme', name: 'GONE' });
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    interface InjectionCase {
      what: string;
      env?: { name: string; value: string }[];
      secrets: { secretName: string; envName?: string }[];
      command?: string;
      /** Variables the process must have seen, with their values. */
      sees?: Record<string, string>;
      /** Variables it must not have. */
      lacks?: string[];
      warning?: RegExp;
      error?: { code: string; mentions: string[] };
    }

    const CASES: InjectionCase[] = [
      { what: '--secret NAME injects under the secret key', secrets: [{ secretName: 'HF_TOKEN' }], sees: { HF_TOKEN: 'hf-value-0001' } },
      { what: '--secret NAME with a key unlike its name', secrets: [{ secretName: 'wandb' }], sees: { WANDB_API_KEY: 'wandb-value-0002' }, lacks: ['wandb'] },
      { what: '--secret KEY=NAME injects under KEY', secrets: [{ secretName: 'db.url', envName: 'MY_DB' }], sees: { MY_DB: 'postgres://user:pw@db/x' }, lacks: ['DATABASE_URL'] },
      {
        what: 'several secrets at once',
        secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'wandb' }, { secretName: 'db.url' }],
        sees: { HF_TOKEN: 'hf-value-0001', WANDB_API_KEY: 'wandb-value-0002', DATABASE_URL: 'postgres://user:pw@db/x' },
      },
      {
        what: '--env wins over a secret with the same key, with a warning',
        env: [{ name: 'HF_TOKEN', value: 'plain-override' }],
        secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'wandb' }],
        sees: { HF_TOKEN: 'plain-override', WANDB_API_KEY: 'wandb-value-0002' },
        warning: /--env HF_TOKEN overrides secret "HF_TOKEN"/,
      },
      {
        what: 'the same secret under two names',
        secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'HF_TOKEN', envName: 'HUGGING_FACE_HUB_TOKEN' }],
        sees: { HF_TOKEN: 'hf-value-0001', HUGGING_FACE_HUB_TOKEN: 'hf-value-0001' },
      },
      { what: 'two secrets on one variable', secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'OTHER_HF' }], error: { code: 'INVALID_ARGUMENT', mentions: ['HF_TOKEN', 'OTHER_HF'] } },
      { what: 'two secrets on one explicit variable', secrets: [{ secretName: 'HF_TOKEN', envName: 'X' }, { secretName: 'wandb', envName: 'X' }], error: { code: 'INVALID_ARGUMENT', mentions: ['HF_TOKEN', 'wandb'] } },
      { what: 'an unknown secret', secrets: [{ secretName: 'NOPE' }], error: { code: 'NOT_FOUND', mentions: ['NOPE'] } },
      // Found by test/model-based.test.ts: a reference whose variable an --env overrides was never looked up.
      { what: 'an unknown secret whose variable an --env overrides', env: [{ name: 'MY_VAR', value: 'v' }], secrets: [{ secretName: 'NOPE', envName: 'MY_VAR' }], error: { code: 'NOT_FOUND', mentions: ['NOPE'] } },
      { what: 'a deleted secret under an explicit variable name', secrets: [{ secretName: 'GONE', envName: 'MY_VAR' }], error: { code: 'NOT_FOUND', mentions: ['GONE'] } },
      { what: 'a deleted secret', secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'GONE' }], error: { code: 'NOT_FOUND', mentions: ['GONE'] } },
      { what: 'an invalid variable name for a secret', secrets: [{ secretName: 'HF_TOKEN', envName: 'BAD-NAME' }], error: { code: 'INVALID_ARGUMENT', mentions: ['job.secrets[0].env_name'] } },
      { what: 'a plain PATH of the job\'s own (plain variables may set it)', env: [{ name: 'PATH', value: '/opt/tools/bin:/usr/bin:/bin' }], secrets: [{ secretName: 'HF_TOKEN' }], sees: { PATH: '/opt/tools/bin:/usr/bin:/bin', HF_TOKEN: 'hf-value-0001' } },
      { what: 'a secret injected as PATH', secrets: [{ secretName: 'HF_TOKEN', envName: 'PATH' }], error: { code: 'INVALID_ARGUMENT', mentions: ['job.secrets[0].env_name', 'PATH decides which program'] } },
      { what: 'a secret injected as LD_PRELOAD', secrets: [{ secretName: 'HF_TOKEN', envName: 'LD_PRELOAD' }], error: { code: 'INVALID_ARGUMENT', mentions: ['job.secrets[0].env_name', 'dynamic loader'] } },
      { what: 'an invalid plain variable name', env: [{ name: '1X', value: 'v' }], secrets: [], error: { code: 'INVALID_ARGUMENT', mentions: ['job.env[0].name'] } },
      { what: 'an empty command', secrets: [{ secretName: 'HF_TOKEN' }], command: '   ', error: { code: 'INVALID_ARGUMENT', mentions: ['job.command'] } },
    ];

    CASES.forEach((c) => {
      it(`${c.what}: ${c.error ? c.error.code : 'the process sees the right env'}`, async () => {
        const request = {
          org: 'acme',
          job: { name: 'inject', image: 'python:3.12', command: c.command ?? PRINT_ENV_DIGESTS, env: c.env ?? [], secrets: c.secrets.map((s) => ({ secretName: s.secretName, envName: s.envName ?? '' })) },
        };
        if (c.error) {
          const before = (await jobs.listJobs({ org: 'acme', pageSize: 1000 })).jobs.length;
          const dirsBefore = jobDirs();
          const got = await failure(memberJobs.createJob(request));
          expect(got.code, got.message).to.equal(c.error.code);
          for (const m of c.error.mentions) expect(got.message).to.include(m);
          expect((await jobs.listJobs({ org: 'acme', pageSize: 1000 })).jobs.length, 'nothing runs, nothing is recorded').to.equal(before);
          // The local backend makes a job's directories while its secrets are read: they go again.
          expect(jobDirs(), 'nothing is left on disk').to.deep.equal(dirsBefore);
          return;
        }
        const { job, warnings } = await memberJobs.createJob(request);
        if (c.warning) expect(warnings.join('\n')).to.match(c.warning);
        else expect(warnings).to.deep.equal([]);
        const done = await finished(job!.id);
        expect(done.state).to.equal(Job_State.STATE_SUCCEEDED);
        const env = envDigests(sys.dataDir, job!.id);
        for (const [k, v] of Object.entries(c.sees ?? {})) expect(env.get(k), k).to.equal(digest(v));
        for (const k of c.lacks ?? []) expect(env.has(k), k).to.equal(false);
        // A minimal base environment: nothing of the server's own, never the submitter's token.
        for (const k of env.keys()) expect(k).to.not.match(/^(VESSL_(DATA_DIR|DATABASE_URL|LISTEN)|VESSLCTL_|npm_|MOCHA)/);
        expect([...env.values()]).to.not.include(digest(memberToken));
        expect(done.attempts[0].secrets.map((s) => s.envName).sort()).to.deep.equal(Object.keys(c.sees ?? {}).filter((k) => !(c.env ?? []).some((e) => e.name === k)).sort());
      });
    });

    it('masks injected values in the log, also split across writes and base64-encoded, and never writes them to disk', async () => {
      const command = [
        'printf "plain: %s\\n" "$HF_TOKEN"',
        'printf "split: %s" "$(printf %s "$WANDB_API_KEY" | cut -c1-6)"; sleep 0.3; printf "%s\\n" "$(printf %s "$WANDB_API_KEY" | cut -c7-)"',
        'printf "b64: %s\\n" "$(printf %s "$HF_TOKEN" | base64)"',
        'printf "twice: %s %s\\n" "$HF_TOKEN" "$HF_TOKEN"',
      ].join('; ');
      const { job } = await jobs.createJob({ org: 'acme', job: { name: 'masking', image: 'x', command, secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'wandb' }] } });
      const done = await finished(job!.id);
      expect(done.state).to.equal(Job_State.STATE_SUCCEEDED);
      const chunks: Buffer[] = [];
      for await (const m of jobs.streamJobLogs({ org: 'acme', id: done.id })) chunks.push(m.data);
      const log = Buffer.concat(chunks).toString();
      expect(log).to.include('plain: ***').and.include('split: ***').and.include('b64: ***').and.include('twice: *** ***');
      const disk = readFileSync(logFile(sys, done));
      for (const v of ['hf-value-0001', 'wandb-value-0002', Buffer.from('hf-value-0001').toString('base64')]) {
        expect(disk.includes(v), v).to.equal(false);
        expect(log).to.not.include(v);
      }
    });

    it('keeps a running job on its value after a rotation; restart gets the new one and stale is marked', async () => {
      await secrets.createSecret({ org: 'acme', secret: { name: 'ROTATING' }, value: await sys.seal('rotating-v1-value') });
      const { job } = await memberJobs.createJob({ org: 'acme', job: { name: 'rotation', image: 'x', command: printDigestForever('ROTATING'), secrets: [{ secretName: 'ROTATING' }] } });
      /** What the attempt printed last, decoded. */
      const seen = (attempt: number) => {
        const file = logFile(sys, job!, attempt);
        // Whole lines only: the last one may still be on its way.
        const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1).filter((line) => /^[0-9a-f]{64}$/.test(line)) : [];
        return lines.at(-1);
      };
      const printed = (attempt: number) => {
        const file = logFile(sys, job!, attempt);
        return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length : 0;
      };
      await until('the first attempt to write', async () => (seen(1) ? true : undefined));
      await secrets.updateSecret({ org: 'acme', secret: { name: 'ROTATING' }, value: await sys.seal('rotating-v2-value'), updateMask: ['value'] });
      // Lines printed after the rotation still carry the first value.
      const after = printed(1);
      await until('the first attempt to print more lines', async () => (printed(1) > after + 2 ? true : undefined));
      expect(seen(1)).to.equal(digest('rotating-v1-value'));

      const stale = await memberJobs.getJob({ org: 'acme', id: job!.id });
      expect(stale.state).to.equal(Job_State.STATE_RUNNING);
      expect(stale.attempts[0].secrets[0]).to.include({ secretName: 'ROTATING', version: 1, currentVersion: 2, stale: true });
      const usedBy = await memberJobs.listJobs({ org: 'acme', secretName: 'ROTATING' });
      expect(usedBy.jobs.map((j) => j.id)).to.deep.equal([job!.id]);

      const restarted = await memberJobs.restartJob({ org: 'acme', id: job!.id });
      expect(restarted.job!.attempts.map((a) => a.state)).to.deep.equal([Job_State.STATE_CANCELLED, Job_State.STATE_RUNNING]);
      expect(restarted.job!.attempts[1].secrets[0]).to.include({ version: 2, stale: false });
      await until('the second attempt to write', async () => (seen(2) === digest('rotating-v2-value') ? true : undefined));
      const terminated = await memberJobs.terminateJob({ org: 'acme', id: job!.id });
      expect(terminated.state).to.equal(Job_State.STATE_CANCELLED);
      expect(terminated.attempts[1].message).to.match(/terminated by test-member/);
    });

    it('restart refuses, and starts nothing, when a secret was deleted since', async () => {
      await secrets.createSecret({ org: 'acme', secret: { name: 'SHORT_LIVED' }, value: await sys.seal('short-lived-value') });
      const { job } = await jobs.createJob({ org: 'acme', job: { name: 'short', image: 'x', command: 'true', secrets: [{ secretName: 'SHORT_LIVED' }] } });
      await finished(job!.id);
      await secrets.deleteSecret({ org: 'acme', name: 'SHORT_LIVED' });
      const shown = await jobs.getJob({ org: 'acme', id: job!.id });
      expect(shown.attempts[0].secrets[0]).to.include({ currentVersion: 0, stale: true });
      expect((await failure(jobs.restartJob({ org: 'acme', id: job!.id }))).code).to.equal('NOT_FOUND');
      expect((await jobs.getJob({ org: 'acme', id: job!.id })).attempts).to.have.length(1);
    });

    it('answers CreateJob with what GetJob then shows: the running attempt, its secrets and their current versions', async () => {
      const { job } = await jobs.createJob({
        org: 'acme',
        job: { name: 'answer', image: 'x', command: 'sleep 30', env: [{ name: 'PLAIN', value: '1' }], secrets: [{ secretName: 'wandb' }, { secretName: 'HF_TOKEN' }, { secretName: 'db.url', envName: 'A_DB' }, { secretName: 'HF_TOKEN', envName: 'a_lower' }, { secretName: 'HF_TOKEN', envName: '_B' }] },
      });
      try {
        expect(job!.state).to.equal(Job_State.STATE_RUNNING);
        expect(job!.attempts[0].startTime).to.be.instanceOf(Date);
        // Bytewise by variable name, whatever the database's collation thinks of case and underscores.
        const order = ['A_DB', 'HF_TOKEN', 'WANDB_API_KEY', '_B', 'a_lower'];
        expect(job!.attempts[0].secrets.map((s) => [s.envName, s.stale])).to.deep.equal(order.map((n) => [n, false]));
        expect(await jobs.getJob({ org: 'acme', id: job!.id })).to.deep.equal(job);
      } finally {
        await jobs.terminateJob({ org: 'acme', id: job!.id });
      }
    });

    it('reports exit codes and failures', async () => {
      const { job } = await jobs.createJob({ org: 'acme', job: { name: 'fails', image: 'x', command: 'exit 3' } });
      const done = await finished(job!.id);
      expect(done.state).to.equal(Job_State.STATE_FAILED);
      expect(done.attempts[0].exitCode).to.equal(3);
    });

    it('streams logs with a tail limit and follows a running job', async () => {
      const { job } = await jobs.createJob({ org: 'acme', job: { name: 'logs', image: 'x', command: 'for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done' } });
      const followed: string[] = [];
      for await (const m of jobs.streamJobLogs({ org: 'acme', id: job!.id, follow: true })) followed.push(m.data.toString());
      expect(followed.join('')).to.equal('line-1\nline-2\nline-3\nline-4\nline-5\n');
      const tail: Buffer[] = [];
      for await (const m of jobs.streamJobLogs({ org: 'acme', id: job!.id, tailLines: 2 })) tail.push(m.data);
      expect(Buffer.concat(tail).toString()).to.equal('line-4\nline-5\n');
    });

    it('lists jobs newest first with pagination and state filters', async () => {
      const page1 = await jobs.listJobs({ org: 'acme', pageSize: 2 });
      expect(page1.jobs).to.have.length(2);
      const page2 = await jobs.listJobs({ org: 'acme', pageSize: 2, pageToken: page1.nextPageToken });
      expect(page2.jobs[0].createTime!.getTime()).to.be.at.most(page1.jobs[1].createTime!.getTime());
      const failed = await jobs.listJobs({ org: 'acme', state: Job_State.STATE_FAILED });
      expect(failed.jobs.map((j) => j.name)).to.deep.equal(['fails']);
      expect((await failure(jobs.listJobs({ org: 'acme', pageSize: 2, pageToken: page1.nextPageToken, state: Job_State.STATE_FAILED }))).code).to.equal('INVALID_ARGUMENT');
    });

    it('refuses other orgs and missing tokens, and lets nobody see another org\'s job', async () => {
      const { job } = await jobs.createJob({ org: 'acme', job: { name: 'private', image: 'x', command: 'true' } });
      const other = sys.jobs(await sys.token('admin', { org: 'globex' }));
      expect((await failure(other.getJob({ org: 'acme', id: job!.id }))).code).to.equal('PERMISSION_DENIED');
      expect((await failure(other.getJob({ org: 'globex', id: job!.id }))).code).to.equal('NOT_FOUND');
      expect((await failure(sys.jobs(await sys.token('operator')).listJobs({ org: 'acme' }))).code).to.equal('PERMISSION_DENIED');
      expect((await failure(sys.jobs('garbage').listJobs({ org: 'acme' }))).code).to.equal('UNAUTHENTICATED');
    });
  });
}
