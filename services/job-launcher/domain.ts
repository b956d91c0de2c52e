import { randomBytes } from 'node:crypto';
import { aborted, failedPrecondition, notFound } from '../runtime/errors.js';
import type { Logger } from '../runtime/logger.js';
import { BackendError, TERMINAL_STATES, type AttemptHandle, type AttemptStatus, type JobBackend, type ReservedAttempt } from './backend.js';
import type { JobInput } from './rules.js';
import { backendUnavailable, SecretHandout, type Actor, type PreparedSecrets, type SecretsPort } from './secret-handout.js';
import { byLanding, type AttemptRow, type InjectedSecretRow, type JobRow, type JobStore, type ListJobsQuery } from './store.js';

export type { Actor, ResolvedSecret, SecretsPort } from './secret-handout.js';

export interface InjectedSecretView extends InjectedSecretRow {
  currentVersion: number;
  stale: boolean;
}

export interface AttemptView extends Omit<AttemptRow, 'secrets'> {
  secrets: InjectedSecretView[];
}

export interface JobView {
  job: JobRow;
  attempts: AttemptView[];
}

export const newJobId = () => `j_${randomBytes(8).toString('hex')}`;

const jobNotFound = (org: string, id: string) => notFound(`job "${id}" not found in org "${org}"`, 'JOB_NOT_FOUND');

/** For backends that reserve nothing ahead of a launch. */
const NOTHING_RESERVED: ReservedAttempt = { cancel: async () => undefined };

/** job-launcher's logic: turn submissions into attempts with freshly decrypted secrets. */
export class JobManager {
  constructor(
    private readonly store: JobStore,
    private readonly secrets: SecretsPort,
    private readonly backend: JobBackend,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.handout = new SecretHandout(secrets, backend, log);
    backend.onStateChange?.((handle, st) => {
      void this.record(handle, st).catch((err: unknown) => this.log.error({ err, jobId: handle.jobId }, 'recording an attempt state failed'));
    });
  }

  private readonly handout: SecretHandout;

  /** Why attempts being stopped by a call end: the backend only knows they were terminated. */
  private readonly stopReasons = new Map<string, string>();

  private record(handle: AttemptHandle, st: AttemptStatus): Promise<boolean> {
    const reason = st.state === 'CANCELLED' ? this.stopReasons.get(`${handle.jobId}/${handle.attempt}`) : undefined;
    return this.store.updateAttemptStatus(handle.jobId, handle.attempt, reason ? { ...st, message: reason } : st, this.now());
  }

  /** Where this backend mounts secret files (the server checks paths against them). */
  get secretFileRoots(): readonly string[] {
    return this.handout.secretFileRoots;
  }

  /** What the backend reserves for an attempt ahead of its launch; nothing when it cannot (its launch then says why). */
  private reserve(jobId: string, attempt: number): ReservedAttempt {
    try {
      return this.backend.reserve?.(jobId, attempt) ?? NOTHING_RESERVED;
    } catch {
      return NOTHING_RESERVED;
    }
  }

  private newAttempt(jobId: string, number: number, actor: Actor, injected: InjectedSecretRow[]): AttemptRow {
    // In the order the store reads them back, so answers match later reads.
    const secrets = [...injected].sort(byLanding);
    return { jobId, number, state: 'PENDING', ref: '', message: '', startedBy: actor.subject, secrets };
  }

  /**
   * Starts the attempt in the backend and records where it runs (and its state, when the
   * backend told it), updating `job` and `attempt` to match; on failure, `undo` removes what
   * was recorded.
   */
  private async launch(job: JobRow, attempt: AttemptRow, prepared: PreparedSecrets, undo: () => Promise<void>): Promise<void> {
    try {
      const { ref, status: started } = await this.backend.launch({
        org: job.org,
        jobId: job.id,
        attempt: attempt.number,
        jobName: job.name,
        image: job.image,
        command: job.command,
        env: job.env,
        secretEnv: prepared.secretEnv,
        secretFiles: prepared.secretFiles,
      });
      const at = this.now();
      attempt.ref = ref;
      if (await this.store.startAttempt(job.id, attempt.number, ref, started, at)) {
        Object.assign(attempt, { state: started!.state, startTime: started!.startTime?.getTime() });
        Object.assign(job, { state: started!.state, updatedAt: at });
      }
    } catch (err) {
      this.log.warn({ jobId: job.id, attempt: attempt.number, err: err instanceof BackendError ? err.message : err }, 'launch failed');
      await undo();
      throw backendUnavailable(err);
    }
  }

  async create(org: string, input: JobInput, actor: Actor): Promise<{ view: JobView; warnings: string[] }> {
    const id = newJobId();
    // The backend makes what it can while the secrets are read (a new id: nothing else can reserve it).
    const reserved = this.reserve(id, 1);
    let prepared: PreparedSecrets;
    let job: JobRow;
    let attempt: AttemptRow;
    try {
      prepared = await this.handout.prepare(org, { id, run: 1 }, input, actor);
      const at = this.now();
      job = {
        id,
        org,
        ...input,
        backend: this.backend.name,
        state: 'PENDING',
        latestAttempt: 1,
        createdAt: at,
        createdBy: actor.subject,
        updatedAt: at,
      };
      attempt = this.newAttempt(id, 1, actor, prepared.injected);
      const recorded = attempt;
      await this.handout.afterHandOut(org, { id, run: 1 }, actor, () => this.store.insertJob(job, recorded), prepared.injected.length > 0);
    } catch (err) {
      await reserved.cancel();
      throw err;
    }
    const launched = attempt;
    await this.handout.afterHandOut(
      org,
      { id, run: 1 },
      actor,
      () =>
        this.launch(job, launched, prepared, async () => {
          await reserved.cancel();
          await this.store.deleteJob(id);
        }),
      prepared.injected.length > 0,
    );
    // The answer comes from what was just written, not from reading it back; the versions
    // just resolved are the secrets' current ones. A backend that reports its attempts'
    // changes itself is not asked again (that would only record its report twice).
    if (!this.backend.onStateChange) await this.refresh(job, [attempt]);
    const current = new Map(prepared.injected.map((s) => [s.secretUid, s.version]));
    return { view: (await this.views(org, [job], [attempt], actor, current))[0], warnings: [...prepared.warnings, ...(this.backend.warnings ?? [])] };
  }

  private async load(org: string, id: string): Promise<{ job: JobRow; attempts: AttemptRow[] }> {
    const job = await this.store.getJob(org, id);
    if (!job) throw jobNotFound(org, id);
    return { job, attempts: await this.store.attemptsOf([id]) };
  }

  /** Asks the backend about unfinished attempts and records what changed. */
  private async refresh(job: JobRow, attempts: AttemptRow[]): Promise<void> {
    for (const a of attempts) {
      if (TERMINAL_STATES.includes(a.state) || a.ref === '') continue;
      try {
        const st = await this.backend.status({ org: job.org, jobId: job.id, attempt: a.number, ref: a.ref });
        if (st.state === a.state) continue;
        if (await this.record({ org: job.org, jobId: job.id, attempt: a.number, ref: a.ref }, st)) {
          Object.assign(a, { state: st.state, exitCode: st.exitCode ?? a.exitCode, message: st.message ?? a.message });
          if (a.number === job.latestAttempt) job.state = st.state;
        }
      } catch (err) {
        this.log.warn({ jobId: job.id, attempt: a.number, err: err instanceof BackendError ? err.message : err }, 'status refresh failed');
      }
    }
  }

  /** Attaches the secrets' current versions so stale attempts show as such. */
  private async views(org: string, jobs: JobRow[], attempts: AttemptRow[], actor: Actor, known = new Map<string, number>()): Promise<JobView[]> {
    const uids = [...new Set(attempts.flatMap((a) => a.secrets.map((s) => s.secretUid)))].filter((uid) => !known.has(uid));
    const current = new Map((uids.length ? await this.secrets.versions(org, uids, actor.requestId) : []).map((v) => [v.uid, v]));
    for (const [uid, version] of known) current.set(uid, { uid, version, deleted: false });
    return jobs.map((job) => ({
      job,
      attempts: attempts
        .filter((a) => a.jobId === job.id)
        .map((a) => ({
          ...a,
          secrets: a.secrets.map((s) => {
            const now = current.get(s.secretUid);
            const currentVersion = now && !now.deleted ? now.version : 0;
            return { ...s, currentVersion, stale: currentVersion !== s.version };
          }),
        })),
    }));
  }

  async get(org: string, id: string, actor: Actor): Promise<JobView> {
    const { job, attempts } = await this.load(org, id);
    await this.refresh(job, attempts);
    return (await this.views(org, [job], attempts, actor))[0];
  }

  async list(query: ListJobsQuery, actor: Actor): Promise<{ views: JobView[]; next?: { createdAt: number; id: string } }> {
    const rows = await this.store.listJobs({ ...query, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const attempts = await this.store.attemptsOf(page.map((j) => j.id));
    for (const job of page) await this.refresh(job, attempts.filter((a) => a.jobId === job.id));
    const last = page[page.length - 1];
    return {
      views: await this.views(query.org, page, attempts, actor),
      next: rows.length > query.limit ? { createdAt: last.createdAt, id: last.id } : undefined,
    };
  }

  private async stop(job: JobRow, attempt: AttemptRow, message: string): Promise<void> {
    const handle = { org: job.org, jobId: job.id, attempt: attempt.number, ref: attempt.ref };
    const key = `${job.id}/${attempt.number}`;
    this.stopReasons.set(key, message);
    try {
      await this.backend.terminate(handle);
      await this.record(handle, { state: 'CANCELLED', message, endTime: new Date(this.now()) });
    } catch (err) {
      throw backendUnavailable(err);
    } finally {
      this.stopReasons.delete(key);
    }
  }

  /** A new attempt with the secrets' current values; a running attempt is stopped first. */
  async restart(org: string, id: string, actor: Actor): Promise<{ view: JobView; warnings: string[] }> {
    const { job, attempts } = await this.load(org, id);
    await this.refresh(job, attempts);
    const latest = attempts[attempts.length - 1];
    const number = job.latestAttempt + 1;
    const prepared = await this.handout.prepare(org, { id, run: number }, job, actor);
    await this.handout.afterHandOut(
      org,
      { id, run: number },
      actor,
      async () => {
        if (!TERMINAL_STATES.includes(latest.state)) await this.stop(job, latest, `restarted by ${actor.subject}`);
        const attempt = this.newAttempt(id, number, actor, prepared.injected);
        if (!(await this.store.addAttempt(attempt, job.latestAttempt))) throw aborted(`job "${id}" was restarted concurrently; look at it and retry`);
        await this.launch(job, attempt, prepared, () => this.store.removeAttempt(id, number));
      },
      prepared.injected.length > 0,
    );
    return { view: await this.get(org, id, actor), warnings: [...prepared.warnings, ...(this.backend.warnings ?? [])] };
  }

  async terminate(org: string, id: string, actor: Actor): Promise<JobView> {
    const { job, attempts } = await this.load(org, id);
    await this.refresh(job, attempts);
    const latest = attempts[attempts.length - 1];
    if (latest.state === 'SUCCEEDED' || latest.state === 'FAILED') {
      throw failedPrecondition(`job "${id}" already ended (${latest.state}); nothing to terminate`, 'JOB_ENDED');
    }
    if (latest.state !== 'CANCELLED') await this.stop(job, latest, `terminated by ${actor.subject}`);
    return this.get(org, id, actor);
  }

  /** The attempt's masked log; `attempt` 0 means the latest. */
  async *logs(org: string, id: string, attemptNumber: number, options: { follow: boolean; tailLines: number; cancelled: () => boolean }): AsyncIterable<Buffer> {
    const { job, attempts } = await this.load(org, id);
    const number = attemptNumber || job.latestAttempt;
    const attempt = attempts.find((a) => a.number === number);
    if (!attempt) throw notFound(`job "${id}" has no attempt ${number}`, 'ATTEMPT_NOT_FOUND');
    if (attempt.ref === '') throw failedPrecondition(`attempt ${number} of job "${id}" has not started`, 'ATTEMPT_NOT_STARTED');
    try {
      yield* this.backend.logs({ org, jobId: id, attempt: number, ref: attempt.ref }, { follow: options.follow, tailLines: options.tailLines || undefined, cancelled: options.cancelled });
    } catch (err) {
      throw backendUnavailable(err);
    }
  }

  /** Jobs by state across all orgs (read from the shared database, so every replica agrees). */
  countByState(): Promise<Map<string, number>> {
    return this.store.countByState();
  }

  /** After a restart of this service: bring unfinished attempts up to date with the backend. */
  async reconcile(): Promise<void> {
    for (const a of await this.store.unfinishedAttempts()) {
      if (a.ref === '') continue;
      try {
        const handle = { org: a.org, jobId: a.jobId, attempt: a.number, ref: a.ref };
        const st = await this.backend.status(handle);
        if (st.state !== a.state) await this.record(handle, st);
      } catch (err) {
        this.log.warn({ jobId: a.jobId, attempt: a.number, err: err instanceof BackendError ? err.message : err }, 'reconcile failed');
      }
    }
  }
}
