// Loaded lazily (see BaseCommand.openJobsApi): it pulls in grpc-js and the generated code.
import { Job, job_StateFromJSON, JobServiceService } from '../services/gen/vessl/jobs/v1/jobs.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { clientOptions } from './client-options.js';
import type { JobStateName } from './job-format.js';
import type { Connection } from './settings.js';

/** Attempt.secrets[]: InjectedSecret.toJSON (default values omitted). */
export interface InjectedSecretJson {
  secretName?: string;
  secretUid?: string;
  envName?: string;
  version?: number;
  /** Absent (0) when the secret has been deleted since. */
  currentVersion?: number;
  stale?: boolean;
}

/** Job.attempts[]: Attempt.toJSON. */
export interface AttemptJson {
  number?: number;
  state?: string;
  startTime?: string;
  endTime?: string;
  exitCode?: number;
  message?: string;
  secrets?: InjectedSecretJson[];
}

/** A job as `-o json` prints it: Job.toJSON (proto camelCase; default values omitted). */
export interface JobJson {
  org?: string;
  id?: string;
  name?: string;
  image?: string;
  command?: string;
  env?: Array<{ name?: string; value?: string }>;
  secrets?: Array<{ secretName?: string; envName?: string }>;
  /** "STATE_PENDING", "STATE_RUNNING", ...: the state of the latest attempt. */
  state?: string;
  attempts?: AttemptJson[];
  backend?: string;
  createTime?: string;
  updateTime?: string;
  createBy?: string;
}

/** What `job create` and `job restart` print with -o json. */
export interface JobChangeJson {
  job: JobJson;
  warnings: string[];
}

export interface JobSpec {
  name: string;
  image: string;
  command: string;
  env: Array<{ name: string; value: string }>;
  secrets: Array<{ secretName: string; envName: string }>;
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
  createJob(spec: JobSpec): Promise<JobChangeJson>;
  getJob(id: string): Promise<JobJson>;
  listJobs(query: JobListQuery): Promise<JobPage>;
  /**
   * The log bytes as they arrive. Aborting `signal` cancels the call and ends the
   * iteration normally; so does leaving the loop early.
   */
  streamLogs(query: LogQuery, signal?: AbortSignal): AsyncIterable<Buffer>;
  restartJob(id: string): Promise<JobChangeJson>;
  terminateJob(id: string): Promise<JobJson>;
  close(): void;
}

/** Creating or restarting an attempt decrypts secrets and may wait for a running one to stop. */
const SLOW_CALL = { timeoutMs: 60_000 };

const jobJson = (job: Job | undefined) => Job.toJSON(job ?? Job.fromPartial({})) as JobJson;

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
