import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { Job_State } from '../../services/gen/vessl/jobs/v1/jobs.js';
import type { JobClient } from './system.js';

/**
 * Shared by the chaos suites (model-based, crash, races, malformed traffic): how many runs
 * they make comes from the environment, so `make soak` runs the same files with larger counts.
 */
export function countFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${variable} must be a whole number, got ${raw}`);
  return n;
}

/** A seed from the environment (to replay a failure) or a fresh one, printed by the caller on failure. */
export function seedFromEnv(variable: string): number {
  const raw = process.env[variable];
  return raw ? Number(raw) : Math.floor(Math.random() * 0x7fffffff);
}

/** A small deterministic PRNG (mulberry32): the same seed replays the same chaos. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The gRPC status name of a failed call ('OK' when it did not fail with a status). */
export function codeOf(err: unknown): string {
  const code = (err as ServiceError | undefined)?.code;
  return typeof code === 'number' ? status[code] : 'OK';
}

/** Runs a call and returns 'OK' and the result, or the status name it failed with. */
export async function outcome<T>(call: Promise<T>): Promise<{ code: string; value?: T }> {
  try {
    return { code: 'OK', value: await call };
  } catch (err) {
    const code = codeOf(err);
    if (code === 'OK') throw err;
    return { code };
  }
}

const TERMINAL = [Job_State.STATE_SUCCEEDED, Job_State.STATE_FAILED, Job_State.STATE_CANCELLED];

/** Waits for a job's first attempt to end and returns its final state. */
export async function jobEnded(jobs: JobClient, org: string, id: string, timeoutMs = 20_000): Promise<Job_State> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await jobs.getJob({ org, id });
    if (TERMINAL.includes(job.state)) return job.state;
    if (Date.now() > deadline) throw new Error(`job ${id} did not end in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A job command that prints its environment as `NAME=<SHA-256 of the value>` lines. A sandboxed
 * job cannot write to the host's files, and its log masks every injected value (also base64),
 * so a test reads what the process saw from its log, by digest: no value, in any encoding,
 * lands in the data dir (whose files the no-plaintext scans read).
 */
export const PRINT_ENV_DIGESTS = 'env | while IFS= read -r line; do printf "%s=%s\\n" "${line%%=*}" "$(printf %s "${line#*=}" | sha256sum | cut -c1-64)"; done';

export const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

/** The digests a job printed with PRINT_ENV_DIGESTS, by variable, from its attempt's log in the data dir (values hold no newline). */
export function envDigests(dataDir: string, jobId: string, attempt = 1): Map<string, string> {
  const log = readFileSync(path.join(dataDir, 'jobs', jobId, `attempt-${attempt}.log`), 'utf8');
  const env = new Map<string, string>();
  for (const match of log.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)=([0-9a-f]{64})$/gm)) env.set(match[1], match[2]);
  return env;
}

/**
 * A job command that prints, for each path, one line `FILE PATH sha256=<SHA-256 of its bytes>
 * mode=<octal> owner=<uid> me=<the job's uid> fs=<filesystem type> write=<ok|refused>
 * chmod=<ok|refused>`: what the job saw of a secret file (through a link, as a workspace's HOME
 * files are), without its value reaching the log.
 */
export function printFileFacts(paths: readonly string[]): string {
  const one =
    'printf "FILE %s sha256=%s mode=%s owner=%s me=%s fs=%s write=%s chmod=%s\\n" "$f" "$(sha256sum < "$f" | cut -c1-64)" "$(stat -L -c %a "$f")" "$(stat -L -c %u "$f")" "$(id -u)" "$(stat -L -f -c %T "$f")" "$( (printf x >> "$f") 2>/dev/null && echo ok || echo refused)" "$(chmod 600 "$f" 2>/dev/null && echo ok || echo refused)"';
  return `for f in ${paths.map((p) => `'${p}'`).join(' ')}; do ${one}; done`;
}

export interface FileFacts {
  sha256: string;
  mode: string;
  owner: string;
  me: string;
  fs: string;
  write: string;
  chmod: string;
}

/** The facts printFileFacts printed, by path. */
export function fileFacts(log: string): Map<string, FileFacts> {
  const facts = new Map<string, FileFacts>();
  for (const match of log.matchAll(/^FILE (\S+) (.*)$/gm)) {
    facts.set(match[1], Object.fromEntries(match[2].split(' ').map((kv) => kv.split('=') as [string, string])) as unknown as FileFacts);
  }
  return facts;
}

export const digestBytes = (value: Uint8Array) => createHash('sha256').update(value).digest('hex');

/**
 * Retries `probe` while it fails with UNAVAILABLE: after a restart, grpc-js channels (which
 * share subchannels) may still be in reconnect backoff from calls made while it was down.
 */
export async function onceReachable<T>(probe: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (codeOf(err) !== 'UNAVAILABLE' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
