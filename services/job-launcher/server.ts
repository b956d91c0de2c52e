import {
  Job_State,
  JobServiceService,
  type Attempt,
  type Job,
} from '../gen/vessl/jobs/v1/jobs.js';
import { requireOrgRole, type TokenVerifier } from '../runtime/auth.js';
import { implementService, type CallTracker, type CallContext, type RegisteredService } from '../runtime/grpc-server.js';
import type { DenialAudit } from '../runtime/denial-audit.js';
import type { Logger } from '../runtime/logger.js';
import { decodePageToken, encodePageToken } from '../runtime/page-token.js';
import { Violations } from '../runtime/validation.js';
import { NAME_PATTERN } from '../secret-store/rules.js';
import type { AttemptState, EnvEntry } from './backend.js';
import type { SecretRef } from './store.js';
import type { Actor, InjectedSecretView, JobManager, JobView } from './domain.js';
import { LogStreamLimits } from './log-stream-limits.js';
import { checkJobInput, JOB_ID_PATTERN, runInputOf } from './rules.js';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const MAX_TAIL_LINES = 100_000;

const STATE_TO_PROTO: Record<AttemptState, Job_State> = {
  PENDING: Job_State.STATE_PENDING,
  RUNNING: Job_State.STATE_RUNNING,
  SUCCEEDED: Job_State.STATE_SUCCEEDED,
  FAILED: Job_State.STATE_FAILED,
  CANCELLED: Job_State.STATE_CANCELLED,
};
const PROTO_TO_STATE = new Map(Object.entries(STATE_TO_PROTO).map(([k, v]) => [v, k as AttemptState]));

/** An optional time in ms as a message's timestamp. */
export const date = (ms?: number) => (ms === undefined ? undefined : new Date(ms));

/** What a job or a workspace was asked to run with: its plain variables and secret references, as in the API. */
export const runInputMessage = (run: { env: EnvEntry[]; secretRefs: SecretRef[] }) => ({
  env: run.env.map((e) => ({ name: e.name, value: e.value })),
  secrets: run.secretRefs.map((r) => ({ secretName: r.secretName, envName: r.envName, filePath: r.filePath ?? '' })),
});

/** A secret a run got (an attempt's or a workspace run's), with its current version, as in the API. */
export const injectedSecretMessage = (s: InjectedSecretView) => ({
  secretName: s.secretName,
  secretUid: s.secretUid,
  envName: s.envName,
  filePath: s.filePath,
  version: s.version,
  currentVersion: s.currentVersion,
  stale: s.stale,
});

/** Explicit mapper from the stored job and its attempts to the API message. */
export function toJobMessage(view: JobView): Job {
  const { job } = view;
  return {
    org: job.org,
    id: job.id,
    name: job.name,
    image: job.image,
    command: job.command,
    ...runInputMessage(job),
    state: STATE_TO_PROTO[job.state],
    attempts: view.attempts.map(
      (a): Attempt => ({
        number: a.number,
        state: STATE_TO_PROTO[a.state],
        startTime: date(a.startTime),
        endTime: date(a.endTime),
        exitCode: a.exitCode,
        message: a.message,
        secrets: a.secrets.map(injectedSecretMessage),
      }),
    ),
    backend: job.backend,
    createTime: new Date(job.createdAt),
    updateTime: new Date(job.updatedAt),
    createBy: job.createdBy,
  };
}

const actorOf = (ctx: CallContext): Actor => ({ subject: ctx.principal.subject, requestId: ctx.requestId });

function checkJobId(id: string): void {
  new Violations().check(JOB_ID_PATTERN.test(id), 'id', id === '' ? 'is required' : `"${id}" is not a job id (j_ followed by 16 hex digits)`).throwIfAny();
}

const JOB_ROLES = ['admin', 'member'] as const;

export function jobService(deps: { jobs: JobManager; denials: DenialAudit; verifier: TokenVerifier; log: Logger; tracker?: CallTracker; logStreams?: LogStreamLimits }): RegisteredService {
  const { jobs } = deps;
  const logStreams = deps.logStreams ?? new LogStreamLimits();
  deps.tracker?.metrics.gaugeFromSource({ name: 'vessl_jobs', help: 'Jobs by state (of their latest attempt), all orgs', label: 'state', read: () => jobs.countByState() });
  const implementation = implementService(
    JobServiceService,
    {
      async createJob(req, ctx) {
        requireOrgRole(ctx.principal, req.org, JOB_ROLES, 'run jobs');
        const input = runInputOf(req.job);
        const v = new Violations();
        checkJobInput(v, input, jobs.secretFileRoots);
        v.throwIfAny();
        const { view, warnings } = await jobs.create(req.org, input, actorOf(ctx));
        return { job: toJobMessage(view), warnings };
      },
      async getJob(req, ctx) {
        requireOrgRole(ctx.principal, req.org, JOB_ROLES, 'read jobs');
        checkJobId(req.id);
        return toJobMessage(await jobs.get(req.org, req.id, actorOf(ctx)));
      },
      async listJobs(req, ctx) {
        requireOrgRole(ctx.principal, req.org, JOB_ROLES, 'list jobs');
        const state = req.state === Job_State.STATE_UNSPECIFIED ? undefined : PROTO_TO_STATE.get(req.state);
        new Violations()
          .check(req.pageSize >= 0, 'page_size', 'must not be negative')
          .check(req.state === Job_State.STATE_UNSPECIFIED || state !== undefined, 'state', 'is not a job state')
          .check(req.secretName === '' || NAME_PATTERN.test(req.secretName), 'secret_name', 'is not a secret name')
          .throwIfAny();
        const listing = { org: req.org, state: state ?? '', secretName: req.secretName };
        const after = req.pageToken
          ? decodePageToken<{ createdAt: number; id: string }>(req.pageToken, listing, (p) => typeof p.createdAt === 'number' && typeof p.id === 'string', 'ListJobs')
          : undefined;
        const limit = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
        const page = await jobs.list({ org: req.org, limit, after, state, secretName: req.secretName || undefined }, actorOf(ctx));
        return { jobs: page.views.map(toJobMessage), nextPageToken: page.next ? encodePageToken(listing, page.next) : '' };
      },
      async *streamJobLogs(req, ctx) {
        requireOrgRole(ctx.principal, req.org, JOB_ROLES, 'read job logs');
        checkJobId(req.id);
        new Violations()
          .check(req.tailLines >= 0 && req.tailLines <= MAX_TAIL_LINES, 'tail_lines', `must be between 0 and ${MAX_TAIL_LINES}`)
          .check(req.attempt >= 0, 'attempt', 'must not be negative')
          .throwIfAny();
        // Held from here until the stream ends, however it ends (done, failed, cancelled).
        const slot = logStreams.acquire(ctx.principal);
        try {
          for await (const data of jobs.logs(req.org, req.id, req.attempt, { follow: req.follow, tailLines: req.tailLines, cancelled: ctx.cancelled })) {
            yield { data };
          }
        } finally {
          slot.release();
        }
      },
      async restartJob(req, ctx) {
        requireOrgRole(ctx.principal, req.org, JOB_ROLES, 'restart jobs');
        checkJobId(req.id);
        const { view, warnings } = await jobs.restart(req.org, req.id, actorOf(ctx));
        return { job: toJobMessage(view), warnings };
      },
      async terminateJob(req, ctx) {
        requireOrgRole(ctx.principal, req.org, JOB_ROLES, 'terminate jobs');
        checkJobId(req.id);
        return toJobMessage(await jobs.terminate(req.org, req.id, actorOf(ctx)));
      },
    },
    { verifier: deps.verifier, log: deps.log, hooks: deps.denials.hooks, tracker: deps.tracker },
  );
  return { definition: JobServiceService, implementation, name: 'vessl.jobs.v1.JobService' };
}

