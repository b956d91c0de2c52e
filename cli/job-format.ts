// Flag parsing and human-readable rendering shared by the job commands (and `secret show`).
// Light on purpose: command modules load at start-up, so this imports no grpc-js.
import { CommandError } from './errors.js';
import { formatDuration, formatFields, formatTable, formatTime, truncateCell } from './output.js';
import type { AttemptJson, InjectedSecretJson, JobJson, JobSpec } from './jobs-api.js';

/** What `job list --state` accepts (Job.State without the STATE_ prefix, lower case). */
export const JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStateName = (typeof JOB_STATES)[number];

/** An attempt (or a job, by its latest attempt) that has not ended yet. */
export const isLive = (state: string) => state === 'pending' || state === 'running';

export const latestAttempt = (job: JobJson): AttemptJson | undefined => job.attempts.at(-1);

/** `--env K=V` split at the first "=" (the value may hold "=", and may be empty). */
export function parseEnvFlags(values: readonly string[] = []): JobSpec['env'] {
  return values.map((text) => {
    const at = text.indexOf('=');
    if (at < 0) throw new CommandError(`--env "${text}" must be KEY=VALUE, e.g. --env LR=0.001 (--env ${text}= for an empty value)`);
    if (at === 0) throw new CommandError('--env needs a variable name before "=": KEY=VALUE');
    return { name: text.slice(0, at), value: text.slice(at + 1) };
  });
}

/** `--secret NAME` (injected under the secret's key) or `--secret KEY=NAME` (under KEY). */
export function parseSecretFlags(values: readonly string[] = []): JobSpec['secrets'] {
  return values.map((text) => {
    const at = text.indexOf('=');
    if (at < 0) {
      if (text === '') throw new CommandError('--secret needs a secret name: NAME or KEY=NAME');
      return { secretName: text, envName: '', filePath: '' };
    }
    const envName = text.slice(0, at);
    const secretName = text.slice(at + 1);
    if (envName === '' || secretName === '') {
      throw new CommandError(`--secret "${text}" must be NAME or KEY=NAME, e.g. --secret HF_TOKEN or --secret HUGGING_FACE_HUB_TOKEN=HF_TOKEN`);
    }
    return { secretName, envName, filePath: '' };
  });
}

/**
 * `--secret-file PATH=NAME`: the secret's value as a read-only file at PATH. Split at the first
 * "=" (a path the server accepts holds none); the server checks the path itself.
 */
export function parseSecretFileFlags(values: readonly string[] = []): JobSpec['secrets'] {
  return values.map((text) => {
    const at = text.indexOf('=');
    const [filePath, secretName] = at < 0 ? ['', ''] : [text.slice(0, at), text.slice(at + 1)];
    if (filePath === '' || secretName === '') {
      throw new CommandError(`--secret-file "${text}" must be PATH=NAME, e.g. --secret-file /run/secrets/gcp.json=gcp-sa-key`);
    }
    return { secretName, envName: '', filePath };
  });
}

/** Where an attempt's secret landed: its variable, or "file PATH". */
export const landingOf = (s: { envName?: string; filePath?: string }) => (s.filePath ? `file ${s.filePath}` : (s.envName ?? ''));

/** A job's reference as given: NAME, KEY=NAME or file PATH=NAME. */
const referenceText = (s: { secretName?: string; envName?: string; filePath?: string }) =>
  s.filePath ? `file ${s.filePath}=${s.secretName ?? ''}` : s.envName ? `${s.envName}=${s.secretName ?? ''}` : (s.secretName ?? '');

/** "HF_TOKEN ← secret HF_TOKEN v3" or "file /run/secrets/key ← secret key v1": what an attempt got, as create/restart report it. */
export const injectedLine = (s: InjectedSecretJson) => `${landingOf(s)} ← secret ${s.secretName ?? ''} v${s.version ?? 0}`;

/** True when the value has been rotated or deleted since the attempt got it. */
export const isStale = (s: InjectedSecretJson) => s.stale === true || !s.currentVersion || s.currentVersion !== s.version;

/** "HF_TOKEN ← HF_TOKEN v2 (stale: now v3; restart the job to use it)", as `job show` reports it. */
export function injectedStatusLine(s: InjectedSecretJson): string {
  const line = `${landingOf(s)} ← ${s.secretName ?? ''} v${s.version ?? 0}`;
  if (!s.currentVersion) return `${line} (deleted since)`;
  if (isStale(s)) return `${line} (stale: now v${s.currentVersion}; restart the job to use it)`;
  return line;
}

/** The few lines `job create` and `job restart` print about a job and its latest attempt. */
export function jobSummary(job: JobJson): string {
  const attempt = latestAttempt(job);
  return formatFields([
    ['id', job.id],
    ['name', job.name],
    ['state', job.state],
    ['backend', job.backend],
    ['attempt', attempt?.number],
    ['secrets', (attempt?.secrets ?? []).map(injectedLine)],
  ]);
}

/** `job show`: the job, its attempts, and the secret versions each attempt got. */
export function jobDetails(job: JobJson): string {
  const by = (time: string | null, who: string) =>
    time ? `${formatTime(time)}${who ? ` by ${who}` : ''}` : undefined;
  const sections = [
    formatFields([
      ['id', job.id],
      ['name', job.name],
      ['org', job.org],
      ['state', job.state],
      ['backend', job.backend],
      ['image', job.image],
      ['command', job.command?.split(/\r?\n/)],
      ['env', (job.env ?? []).map((e) => `${e.name ?? ''}=${e.value ?? ''}`)],
      ['secrets', (job.secrets ?? []).map(referenceText)],
      ['created', by(job.createTime, job.createBy)],
      ['updated', formatTime(job.updateTime)],
    ]),
  ];
  const attempts = job.attempts ?? [];
  if (attempts.length > 0) {
    sections.push(
      formatTable(
        ['ATTEMPT', 'STATE', 'STARTED', 'ENDED', 'TOOK', 'EXIT', 'MESSAGE'],
        attempts.map((a) => [
          String(a.number ?? 0),
          a.state,
          formatTime(a.startTime),
          formatTime(a.endTime),
          a.startTime && a.endTime ? formatDuration(Date.parse(a.endTime) - Date.parse(a.startTime)) : '',
          a.exitCode === null ? '' : String(a.exitCode),
          truncateCell(a.message, 60),
        ]),
      ),
    );
  }
  for (const a of attempts) {
    if (!a.secrets?.length) continue;
    sections.push([`attempt ${a.number ?? 0} secrets:`, ...a.secrets.map((s) => `  ${injectedStatusLine(s)}`)].join('\n'));
  }
  return sections.join('\n\n');
}

/** `job list`: one row per job. */
export function jobTable(jobs: JobJson[]): string {
  return formatTable(
    ['ID', 'NAME', 'STATE', 'ATTEMPTS', 'BACKEND', 'CREATED'],
    jobs.map((job) => [
      job.id ?? '',
      job.name ?? '',
      job.state,
      String(latestAttempt(job)?.number ?? job.attempts?.length ?? 0),
      job.backend ?? '',
      formatTime(job.createTime),
    ]),
  );
}
