import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { isLive, isStale, landingOf } from '../../job-format.js';
import type { JobJson, JobsApi } from '../../jobs-api.js';
import { formatFields, formatTime } from '../../output.js';
import type { SecretJson } from '../../secrets-api.js';
import type { WorkspaceJson, WorkspacesApi } from '../../workspaces-api.js';

/** One live job attempt that holds the secret's value. */
export interface SecretUseJson {
  jobId: string;
  jobName: string;
  attempt: number;
  /** The variable it was injected as; empty for a file. */
  envName: string;
  /** The path it was mounted at as a file; empty for a variable. */
  filePath: string;
  /** The version the attempt got. */
  version: number;
  /** The secret's version now. */
  currentVersion: number;
  /** True when the value has been rotated since: the job must be restarted to get it. */
  stale: boolean;
}

/** One running workspace whose current run holds the secret's value. */
export interface SecretWorkspaceUseJson {
  workspaceName: string;
  workspaceId: string;
  run: number;
  /** The variable it was injected as; empty for a file. */
  envName: string;
  /** The path of its file; empty for a variable. */
  filePath: string;
  /** The version the run holds (a file: the one it was last refreshed to). */
  version: number;
  /** The secret's version now. */
  currentVersion: number;
  /** A variable on a value rotated since: the workspace must be stopped and started to get it. */
  stale: boolean;
}

/**
 * What `secret show -o json` prints: the secret's own fields, plus `usedBy` (the pending or
 * running jobs that hold its value) and `usedByWorkspaces` (the running workspaces that do).
 * Each is null when the jobs (workspaces) could not be listed.
 */
export type SecretShowJson = SecretJson & { usedBy: SecretUseJson[] | null; usedByWorkspaces: SecretWorkspaceUseJson[] | null };

const PAGE_SIZE = 1000;

export default class SecretShow extends BaseCommand<typeof SecretShow> {
  static override aliases = ['secret:get'];
  static override summary = 'Show a secret\'s metadata (never its value) and the running jobs and workspaces that use it.';
  static override description =
    'Lists the jobs whose pending or running attempt got this secret, and the running workspaces that hold it, with the version each got; one that runs on a value rotated since is marked stale (`vesslctl job restart ID` refreshes a job; `vesslctl workspace stop` and `start` a workspace\'s variable, while its files follow rotations by themselves).';

  static override examples = ['<%= config.bin %> secret show HF_TOKEN', '<%= config.bin %> secret show HF_TOKEN -o yaml'];

  static override args = {
    name: Args.string({ required: true, description: 'Name of the secret.' }),
  };

  async run(): Promise<SecretShowJson> {
    const { name } = this.args;
    const api = await this.openApi();
    const jobs = await this.openJobsApi(api.connection);
    const workspaces = await this.openWorkspacesApi(api.connection);
    // The calls at once; a failure to list jobs (workspaces) only costs that part of "used by".
    const jobUses = settled(liveJobsUsing(jobs, name));
    const workspaceUses = settled(runningWorkspacesUsing(workspaces, name));
    const secret = await api.getSecret(name);
    const usedBy = await this.orWarn(await jobUses, 'jobs', name, (found) => usesOf(found, secret));
    const usedByWorkspaces = await this.orWarn(await workspaceUses, 'workspaces', name, (found) => workspaceUsesOf(found, secret));
    return this.print({ ...secret, usedBy, usedByWorkspaces }, secretFields, (s) => s.name);
  }

  /** What was listed, mapped; or null and a warning saying why it could not be. */
  private async orWarn<F, R>(listed: Settled<F>, what: string, name: string, map: (found: F) => R): Promise<R | null> {
    if ('found' in listed) return map(listed.found);
    this.notice(`warning: cannot list the ${what} that use secret ${name}: ${await this.describeError(listed.err)}`);
    return null;
  }
}

type Settled<F> = { found: F } | { err: unknown };
const settled = <F>(promise: Promise<F>): Promise<Settled<F>> =>
  promise.then(
    (found) => ({ found }),
    (err: unknown) => ({ err }),
  );

/** Every page of the workspaces whose current run holds the secret, keeping the running ones. */
async function runningWorkspacesUsing(api: WorkspacesApi, secretName: string): Promise<WorkspaceJson[]> {
  const running: WorkspaceJson[] = [];
  let pageToken = '';
  do {
    const page = await api.listWorkspaces({ pageSize: PAGE_SIZE, pageToken, secretName });
    running.push(...page.workspaces.filter((w) => w.state === 'running' || w.state === 'starting'));
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return running;
}

/** The running workspaces' holdings of this secret (not of a deleted namesake: matched by uid). */
function workspaceUsesOf(workspaces: WorkspaceJson[], secret: SecretJson): SecretWorkspaceUseJson[] {
  return workspaces.flatMap((w) =>
    w.injected
      .filter((s) => s.secretName === secret.name && !s.removed && (!s.secretUid || !secret.uid || s.secretUid === secret.uid))
      .map((s) => ({
        workspaceName: w.name,
        workspaceId: w.id,
        run: w.run,
        envName: s.envName,
        filePath: s.filePath,
        version: s.version,
        currentVersion: s.currentVersion,
        stale: s.stale,
      })),
  );
}

/** Every page of the org's jobs that got the secret, keeping the pending and running ones. */
async function liveJobsUsing(api: JobsApi, secretName: string): Promise<JobJson[]> {
  const live: JobJson[] = [];
  let pageToken = '';
  do {
    const page = await api.listJobs({ pageSize: PAGE_SIZE, pageToken, secretName });
    live.push(...page.jobs.filter((job) => isLive(job.state)));
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return live;
}

/** The live attempts' injections of this secret (not of a deleted namesake: matched by uid). */
function usesOf(jobs: JobJson[], secret: SecretJson): SecretUseJson[] {
  return jobs.flatMap((job) =>
    (job.attempts ?? [])
      .filter((attempt) => isLive(attempt.state))
      .flatMap((attempt) =>
        (attempt.secrets ?? [])
          .filter((s) => s.secretName === secret.name && (!s.secretUid || !secret.uid || s.secretUid === secret.uid))
          .map((s) => ({
            jobId: job.id ?? '',
            jobName: job.name ?? '',
            attempt: attempt.number ?? 0,
            envName: s.envName ?? '',
            filePath: s.filePath ?? '',
            version: s.version ?? 0,
            currentVersion: s.currentVersion ?? secret.version ?? 0,
            stale: isStale({ ...s, currentVersion: s.currentVersion ?? secret.version }),
          })),
      ),
  );
}

/** "j_… (train) attempt 2 as HF_TOKEN v2 — stale: rotated to v3, restart to refresh" (or "as file /run/secrets/key v2 — current") */
export function useLine(use: SecretUseJson): string {
  const state = use.stale ? `stale: rotated to v${use.currentVersion}, restart to refresh` : 'current';
  return `${use.jobId} (${use.jobName}) attempt ${use.attempt} as ${landingOf(use)} v${use.version} — ${state}`;
}

/** "workspace dev (w_…) run 1 as HF_TOKEN v1 — stale: rotated to v2, stop and start it to refresh" (a file: "as file PATH v2 — current") */
export function workspaceUseLine(use: SecretWorkspaceUseJson): string {
  const state = use.stale ? `stale: rotated to v${use.currentVersion}, stop and start it to refresh` : 'current';
  return `workspace ${use.workspaceName} (${use.workspaceId}) run ${use.run} as ${landingOf(use)} v${use.version} — ${state}`;
}

/** Whether the value can be injected as an environment variable, and why not. */
const ENV_VAR_FIT_TEXT: Record<string, string> = {
  ok: 'yes',
  nul_byte: 'no: the value holds a NUL byte',
  not_utf8: 'no: the value is not UTF-8 text',
};
const envVarFitText = (fit: string | undefined) => (fit ? ENV_VAR_FIT_TEXT[fit] : undefined);

/** The "used by" lines: jobs, then workspaces; what could not be listed is left out. */
function usedByLines(s: SecretShowJson): string[] | undefined {
  if (s.usedBy === null && s.usedByWorkspaces === null) return undefined;
  const lines = [...(s.usedBy ?? []).map(useLine), ...(s.usedByWorkspaces ?? []).map(workspaceUseLine)];
  if (lines.length > 0) return lines;
  return [s.usedBy === null ? 'no running workspaces' : s.usedByWorkspaces === null ? 'no pending or running jobs' : 'no pending or running jobs or workspaces'];
}

export function secretFields(s: SecretShowJson): string {
  const by = (time: string | null, who: string) =>
    time ? `${formatTime(time)}${who ? ` by ${who}` : ''}` : undefined;
  const usedBy = usedByLines(s);
  return formatFields([
    ['name', s.name],
    ['org', s.org],
    ['key', s.key],
    ['description', s.description],
    ['version', s.version],
    ['state', s.state],
    ['uid', s.uid],
    ['created', by(s.createTime, s.createBy)],
    ['updated', by(s.updateTime, s.updateBy)],
    ['value set', formatTime(s.valueUpdateTime)],
    ['fingerprint', s.valueFingerprint],
    ['as env var', envVarFitText(s.envVarFit)],
    ['deleted', by(s.deleteTime, s.deleteBy)],
    ['used by', usedBy],
  ]);
}
