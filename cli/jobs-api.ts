// Loaded lazily (see BaseCommand.openJobsApi): it pulls in grpc-js and the generated code.
import { job_StateFromJSON, job_StateToJSON, JobServiceService, type Attempt, type InjectedSecret, type Job } from '../services/gen/vessl/jobs/v1/jobs.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { clientOptions } from './client-options.js';
import { enumJson, timeJson } from './json-values.js';
import type { JobStateName } from './job-format.js';
import type { Connection } from './settings.js';

/** A secret an attempt got (cli/json-values.ts: every field). */
export interface InjectedSecretJson {
  secretName: string;
  secretUid: string;
  /** Empty when the secret was mounted as a file. */
  envName: string;
  /** Where it was mounted as a read-only file (`--secret-file`); empty for a variable. */
  filePath: string;
  version: number;
  /** 0 when the secret has been deleted since. */
  currentVersion: number;
  stale: boolean;
}

/** One run of a job. */
export interface AttemptJson {
  number: number;
  state: string;
  startTime: string | null;
  endTime: string | null;
  /** null while it runs, or when it ended without one (terminated). */
  exitCode: number | null;
  message: string;
  secrets: InjectedSecretJson[];
}

/** A job as `-o json` prints it (cli/json-values.ts: every field, proto camelCase). */
export interface JobJson {
  org: string;
  id: string;
  name: string;
  image: string;
  command: string;
  env: Array<{ name: string; value: string }>;
  /** `--secret` references (envName, empty: the secret's key) and `--secret-file` ones (filePath). */
  secrets: Array<{ secretName: string; envName: string; filePath: string }>;
  /** "pending", "running", "succeeded", "failed", "cancelled": the state of the latest attempt. */
  state: string;
  attempts: AttemptJson[];
  backend: string;
  createTime: string | null;
  updateTime: string | null;
  createBy: string;
}

/** What creating or restarting a job returns: the job, and warnings for stderr. */
export interface JobChange {
  job: JobJson;
  warnings: string[];
}

export interface JobSpec {
  name: string;
  image: string;
  command: string;
  env: Array<{ name: string; value: string }>;
  secrets: Array<{ secretName: string; envName: string; filePath: string }>;
}

export interface JobPage {
  jobs: JobJson[];
  nextPageToken: string;
}

export interface JobListQuery {
  pageSize: number;
  pageToken: string;
  state?: JobStateName;
  secretName?: string;
}

export interface LogQuery {
  id: string;
  follow: boolean;
  /** 0: the whole log. */
  tailLines: number;
  /** 0: the latest attempt. */
  attempt: number;
}

/** The job calls vesslctl makes, for one endpoint, org and token, in the shapes it prints. */
export interface JobsApi {
  readonly connection: Connection;
  createJob(spec: JobSpec): Promise<JobChange>;
  getJob(id: string): Promise<JobJson>;
  listJobs(query: JobListQuery): Promise<JobPage>;
  /**
   * The log bytes as they arrive. Aborting `signal` cancels the call and ends the
   * iteration normally; so does leaving the loop early.
   */
  streamLogs(query: LogQuery, signal?: AbortSignal): AsyncIterable<Buffer>;
  restartJob(id: string): Promise<JobChange>;
  terminateJob(id: string): Promise<JobJson>;
  close(): void;
}

/** Creating or restarting an attempt decrypts secrets and may wait for a running one to stop. */
const SLOW_CALL = { timeoutMs: 60_000 };

export const injectedSecretJson = (s: InjectedSecret): InjectedSecretJson => ({
  secretName: s.secretName,
  secretUid: s.secretUid,
  envName: s.envName,
  filePath: s.filePath,
  version: s.version,
  currentVersion: s.currentVersion,
  stale: s.stale,
});

const attemptJson = (a: Attempt): AttemptJson => ({
  number: a.number,
  state: enumJson(job_StateToJSON(a.state)),
  startTime: timeJson(a.startTime),
  endTime: timeJson(a.endTime),
  exitCode: a.exitCode ?? null,
  message: a.message,
  secrets: a.secrets.map(injectedSecretJson),
});

/** What a job or workspace was asked to run with: its plain variables and secret references. */
export const runInputJson = (run: Pick<Job, 'env' | 'secrets'>) => ({
  env: run.env.map(({ name, value }) => ({ name, value })),
  secrets: run.secrets.map(({ secretName, envName, filePath }) => ({ secretName, envName, filePath })),
});

/** Explicit mapper: every field, times as RFC 3339 or null, states lower case. */
function jobJson(job: Job | undefined): JobJson {
  if (!job) throw new Error('the job-launcher answered without a job');
  return {
    org: job.org,
    id: job.id,
    name: job.name,
    image: job.image,
    command: job.command,
    ...runInputJson(job),
    state: enumJson(job_StateToJSON(job.state)),
    attempts: job.attempts.map(attemptJson),
    backend: job.backend,
    createTime: timeJson(job.createTime),
    updateTime: timeJson(job.updateTime),
    createBy: job.createBy,
  };
}

export function openJobsApi(connection: Connection): JobsApi {
  const { endpoint, org } = connection;
  // The job-launcher answers on the same endpoint as the secret-store (DESIGN §1).
  const jobs = createServiceClient(JobServiceService, endpoint, clientOptions(connection));

  return {
    connection,
    async createJob(spec) {
      const response = await jobs.createJob({ org, job: spec }, SLOW_CALL);
      return { job: jobJson(response.job), warnings: response.warnings };
    },
    async getJob(id) {
      return jobJson(await jobs.getJob({ org, id }));
    },
    async listJobs({ pageSize, pageToken, state, secretName }) {
      const response = await jobs.listJobs({
        org,
        pageSize,
        pageToken,
        state: state ? job_StateFromJSON(`STATE_${state.toUpperCase()}`) : undefined,
        secretName: secretName ?? '',
      });
      return { jobs: response.jobs.map(jobJson), nextPageToken: response.nextPageToken };
    },
    async *streamLogs(query, signal) {
      if (signal?.aborted) return;
      for await (const message of jobs.streamJobLogs({ org, ...query }, { signal })) yield message.data;
    },
    async restartJob(id) {
      const response = await jobs.restartJob({ org, id }, SLOW_CALL);
      return { job: jobJson(response.job), warnings: response.warnings };
    },
    async terminateJob(id) {
      return jobJson(await jobs.terminateJob({ org, id }, SLOW_CALL));
    },
    close() {
      jobs.close();
    },
  };
}
