import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { isLive, isStale, landingOf } from '../../job-format.js';
import type { JobJson, JobsApi } from '../../jobs-api.js';
import { formatFields, formatTime } from '../../output.js';
import type { SecretJson } from '../../secrets-api.js';

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

/**
 * What `secret show -o json` prints: the secret's own fields, plus `usedBy` (the pending or
 * running jobs that hold its value). `usedBy` is null when the jobs could not be listed.
 */
export type SecretShowJson = SecretJson & { usedBy: SecretUseJson[] | null };

const PAGE_SIZE = 1000;

export default class SecretShow extends BaseCommand<typeof SecretShow> {
  static override aliases = ['secret:get'];
  static override summary = 'Show a secret\'s metadata (never its value) and the running jobs that use it.';
  static override description =
    'Lists the jobs whose pending or running attempt got this secret, with the version each got; one that runs on a value rotated since is marked stale (`vesslctl job restart ID` refreshes it).';

  static override examples = ['<%= config.bin %> secret show HF_TOKEN', '<%= config.bin %> secret show HF_TOKEN -o yaml'];

  static override args = {
    name: Args.string({ required: true, description: 'Name of the secret.' }),
  };

  async run(): Promise<SecretShowJson> {
    const { name } = this.args;
    const api = await this.openApi();
    const jobs = await this.openJobsApi(api.connection);
    // Both calls at once; a failure to list jobs only costs the "used by" part.
    const uses = liveJobsUsing(jobs, name).then(
      (found) => ({ found }),
      (err: unknown) => ({ err }),
    );
    const secret = await api.getSecret(name);
    const listed = await uses;
    const usedBy = 'found' in listed ? usesOf(listed.found, secret) : null;
    if ('err' in listed) this.notice(`warning: cannot list the jobs that use secret ${name}: ${await this.describeError(listed.err)}`);
    return this.print({ ...secret, usedBy }, secretFields, (s) => s.name);
  }
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

/** Whether the value can be injected as an environment variable, and why not. */
const ENV_VAR_FIT_TEXT: Record<string, string> = {
  ok: 'yes',
  nul_byte: 'no: the value holds a NUL byte',
  not_utf8: 'no: the value is not UTF-8 text',
};
const envVarFitText = (fit: string | undefined) => (fit ? ENV_VAR_FIT_TEXT[fit] : undefined);

export function secretFields(s: SecretShowJson): string {
  const by = (time: string | null, who: string) =>
    time ? `${formatTime(time)}${who ? ` by ${who}` : ''}` : undefined;
  const usedBy = s.usedBy === null ? undefined : s.usedBy.length === 0 ? 'no pending or running jobs' : s.usedBy.map(useLine);
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
