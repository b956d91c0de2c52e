import { EventEmitter, once } from 'node:events';
import { closeSync, createWriteStream, mkdirSync, open as openFd, openSync, type MakeDirectoryOptions, type WriteStream } from 'node:fs';
import { mkdir, open, readFile, rm, rmdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../runtime/logger.js';
import { secretFilePathProblems } from '../../runtime/secret-file-paths.js';
import {
  BackendError,
  BackendPreconditionError,
  TERMINAL_STATES,
  type AttemptHandle,
  type AttemptSpec,
  type AttemptStatus,
  type JobBackend,
  type LogOptions,
  type ReservedAttempt,
  type SecretFileSupport,
} from '../backend.js';
import { JobSpawner, type ShellExit, type SpawnedShell } from './job-spawner.js';
import { LogMasker } from './log-masker.js';
import { runEnvironment, RUN_PATH } from '../sandbox/run-environment.js';
import { parseSandboxStatus } from '../sandbox/bubblewrap.js';
import { DEFAULT_UIDS, defaultWorkRoot, JobSandbox, type AttemptLease, type SandboxSettings } from '../sandbox/job-sandbox.js';
import { namespaceEnded, signalNamespace } from '../sandbox/pid-namespace.js';

/**
 * The embedded default backend (DESIGN §5): each attempt is a `/bin/sh -c` process in a
 * bubblewrap sandbox of its own (see ../sandbox/), started by the job spawner (see
 * job-spawner.ts), with a minimal environment, a fresh work dir as HOME, and its output
 * (stdout and stderr as one stream) written to a log file with every injected secret value
 * masked. The server's own files for an attempt (log, status) live in the data dir, which no
 * job can see.
 */

/** The only PATH a job gets unless its own env sets one. */
export const JOB_PATH = RUN_PATH;

export const RESTARTED_MESSAGE = 'the server restarted while the attempt ran; restart the job';
export const SPAWNER_LOST_MESSAGE = 'the job spawner stopped while the attempt ran; restart the job';

export interface LocalBackendOptions {
  /** Attempts' logs and status live under `<dataDir>/jobs/<jobId>/`. */
  dataDir: string;
  /** How attempts are sandboxed (default: bubblewrap, network shared, work dirs under defaultWorkRoot(dataDir)). */
  sandbox?: Partial<SandboxSettings>;
  now?: () => Date;
  log?: Logger;
  /** How long a process group gets between SIGTERM and SIGKILL (default 5 s). */
  terminateGraceMs?: number;
  /** How long a launch waits for its shell to start (default 15 s). */
  spawnTimeoutMs?: number;
}

const DEFAULT_GRACE_MS = 5000;
/** How long to wait for the output pipes once the process group is gone (an escaped daemon may hold them). */
const PIPE_CLOSE_TIMEOUT_MS = 2000;
const GROUP_POLL_MS = 50;
const FOLLOW_POLL_MS = 250;
const READ_BLOCK = 64 * 1024;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NEWLINE = 0x0a;

interface LocalAttempt {
  handle: AttemptHandle;
  pgid: number;
  /** The sandbox's PID namespace and its PID 1, once bwrap reports them. */
  sandbox?: { pidNamespace: number; initPid: number };
  status: AttemptStatus;
  /** The shell has exited (its outcome is decided; the group and the log may still be finishing). */
  exited: boolean;
  terminateRequested: boolean;
  killTimer?: NodeJS.Timeout;
  /** Emits 'change' on every log write and when the attempt ends (followers wait on it). */
  changes: EventEmitter;
  /** Settles once the group is gone, the log is complete and the status is terminal. */
  finished: Promise<void>;
}

interface AttemptPaths {
  jobDir: string;
  attemptDir: string;
  logFile: string;
  /** The outcome of an attempt that ended, once it is no longer kept in memory. */
  statusFile: string;
}

/** An attempt's files being made ahead of its launch. */
interface ReservedFiles {
  paths: AttemptPaths;
  /** The log file's fd once every file is made; rejects (having removed what it made) otherwise. */
  logFd: Promise<number>;
  /** Its work dir and uid; rejects (having released what it took) otherwise. */
  lease: Promise<AttemptLease>;
}

const isTerminal = (status: AttemptStatus) => TERMINAL_STATES.includes(status.state);
const attemptKey = (jobId: string, attempt: number) => `${jobId}/${attempt}`;
const errorCode = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;
const invalid = (publicMessage: string) => new BackendError(`local backend: ${publicMessage}`, publicMessage);

export function createLocalBackend(options: LocalBackendOptions): JobBackend {
  return new LocalBackend(options);
}

class LocalBackend implements JobBackend {
  readonly name = 'local' as const;
  private readonly attempts = new Map<string, LocalAttempt>();
  /** Attempt files being made ahead of their launch (reserve()), by attemptKey: where, and the log's fd. */
  private readonly reserved = new Map<string, ReservedFiles>();
  private readonly listeners: ((handle: AttemptHandle, status: AttemptStatus) => void)[] = [];
  private readonly now: () => Date;
  private readonly graceMs: number;
  private readonly spawner: JobSpawner;
  private readonly sandbox: JobSandbox;
  private closed = false;

  /** Throws SandboxUnavailableError (its message names the fix) when jobs cannot be sandboxed here. */
  constructor(private readonly options: LocalBackendOptions) {
    this.now = options.now ?? (() => new Date());
    this.graceMs = options.terminateGraceMs ?? DEFAULT_GRACE_MS;
    this.sandbox = JobSandbox.open({
      kind: options.sandbox?.kind ?? 'bubblewrap',
      network: options.sandbox?.network ?? 'shared',
      workRoot: options.sandbox?.workRoot ?? defaultWorkRoot(options.dataDir),
      uids: options.sandbox?.uids ?? DEFAULT_UIDS,
    }, [options.dataDir]);
    for (const warning of this.sandbox.warnings) options.log?.warn(warning);
    this.spawner = new JobSpawner(options.log, options.spawnTimeoutMs);
    this.spawner.warmUp();
  }

  /** Said to the creator of every job (the unsandboxed opt-out). */
  get secretFiles() {
    return this.sandbox.secretFiles;
  }

  get warnings(): string[] {
    return this.sandbox.warnings;
  }

  /**
   * Makes the attempt's directories and log file through the thread pool while the launcher
   * reads and decrypts its secrets: on this kind of disk the four metadata calls took 0.4-3 ms
   * of a launch when made at its start.
   */
  reserve(jobId: string, attempt: number): ReservedAttempt {
    const key = attemptKey(jobId, attempt);
    if (this.closed) throw invalid('the local backend is shutting down');
    if (this.attempts.has(key) || this.reserved.has(key)) throw invalid(`attempt ${attempt} of job ${jobId} already exists`);
    const paths = this.paths(jobId, attempt);
    const logFd = createAttemptFiles(paths, { jobId, attempt }, THREAD_POOL_FILES);
    logFd.catch(() => undefined); // launch() reports it
    const lease = this.lease();
    lease.catch(() => undefined); // launch() reports it
    this.reserved.set(key, { paths, logFd, lease });
    return { cancel: () => this.cancelReserved(key) };
  }

  private async cancelReserved(key: string): Promise<void> {
    const files = this.reserved.get(key);
    if (!files) return; // launched, or cancelled already
    this.reserved.delete(key);
    await discardFiles(files);
  }

  async launch(spec: AttemptSpec): Promise<{ ref: string; status: AttemptStatus }> {
    const key = attemptKey(spec.jobId, spec.attempt);
    const reserved = this.reserved.get(key);
    this.reserved.delete(key);
    let paths: AttemptPaths;
    let env: Record<string, string>;
    try {
      if (this.closed) throw invalid('the local backend is shutting down');
      paths = this.paths(spec.jobId, spec.attempt);
      env = jobEnvironment(spec);
      checkSecretFiles(spec, this.sandbox.secretFiles);
      if (this.attempts.has(key)) throw invalid(`attempt ${spec.attempt} of job ${spec.jobId} already exists`);
    } catch (err) {
      if (reserved) await discardFiles(reserved);
      throw err;
    }
    const leasing = reserved?.lease ?? this.lease();
    let logFd: number;
    let lease: AttemptLease;
    try {
      logFd = await (reserved?.logFd ?? createAttemptFiles(paths, spec, BLOCKING_FILES));
    } catch (err) {
      await leasing.then((taken) => taken.release()).catch(() => undefined);
      throw err;
    }
    try {
      lease = await leasing;
    } catch (err) {
      closeSync(logFd);
      await removeAttemptFiles(paths);
      throw err;
    }
    env.HOME ??= lease.home;
    const files = spec.secretFiles ?? [];
    const spawning = (async () => this.spawner.spawn(this.sandbox.command(lease, spec.command, env, files)))();
    // Built while the spawner forks (the shell's early output waits in SpawnedShell). A file's value is masked as a variable's.
    const masker = new LogMasker([...spec.secretEnv, ...files].map((entry) => entry.value));
    let shell: SpawnedShell;
    try {
      shell = await spawning;
    } catch (err) {
      masker.end();
      closeSync(logFd);
      await Promise.all([removeAttemptFiles(paths), lease.release()]);
      this.options.log?.warn({ jobId: spec.jobId, attempt: spec.attempt, err: errorCode(err) ?? String(err) }, 'local job did not start');
      throw new BackendError(`local backend: spawning the job failed: ${errorCode(err) ?? String(err)}`, 'the job process could not be started');
    }
    const pid = shell.pid;
    const handle: AttemptHandle = { org: spec.org, jobId: spec.jobId, attempt: spec.attempt, ref: String(pid) };
    const attempt: LocalAttempt = {
      handle,
      pgid: pid,
      status: { state: 'RUNNING', startTime: this.now() },
      exited: false,
      terminateRequested: false,
      changes: new EventEmitter().setMaxListeners(0),
      finished: Promise.resolve(),
    };
    shell.onStatus((line) => this.sandboxStatus(attempt, line));
    this.attempts.set(key, attempt);
    attempt.finished = this.supervise(attempt, shell, logFd, masker, lease)
      .catch((err: unknown) => this.lostTrack(attempt, err))
      .then(() => this.forget(attempt, paths));
    this.options.log?.info({ jobId: spec.jobId, attempt: spec.attempt, pid }, 'local job started');
    // close() ran while this attempt was starting: it must not outlive the server either.
    if (this.closed) this.stop(attempt);
    return { ref: handle.ref, status: { ...attempt.status } };
  }

  async status(handle: AttemptHandle): Promise<AttemptStatus> {
    const attempt = this.attempts.get(this.key(handle));
    if (attempt) return { ...attempt.status };
    const ended = await readStatusFile(this.paths(handle.jobId, handle.attempt).statusFile);
    if (ended) return ended;
    // Its log exists but this process never ran it to its end: the server restarted under it.
    await this.requireLog(handle);
    return { state: 'FAILED', message: RESTARTED_MESSAGE };
  }

  async terminate(handle: AttemptHandle): Promise<void> {
    const attempt = this.attempts.get(this.key(handle));
    if (!attempt) {
      await this.requireLog(handle);
      return;
    }
    this.stop(attempt);
    await attempt.finished;
  }

  async *logs(handle: AttemptHandle, options: LogOptions): AsyncIterable<Buffer> {
    const attempt = this.attempts.get(this.key(handle));
    const { logFile } = this.paths(handle.jobId, handle.attempt);
    const file = await open(logFile, 'r').catch((err: unknown) => {
      throw errorCode(err) === 'ENOENT' ? unknownAttempt(handle) : new BackendError(`local backend: opening ${logFile}: ${errorCode(err)}`, 'the job log could not be read');
    });
    const cancelled = () => options.cancelled?.() ?? false;
    try {
      let position = options.tailLines ? await tailOffset(file, options.tailLines) : 0;
      while (!cancelled()) {
        // Decided before reading: the log is complete once the attempt is terminal.
        const complete = !attempt || isTerminal(attempt.status);
        for await (const chunk of readFrom(file, position)) {
          position += chunk.length;
          yield chunk;
          if (cancelled()) return;
        }
        if (!options.follow || complete) return;
        await nextChange(attempt.changes, FOLLOW_POLL_MS);
      }
    } finally {
      await file.close();
    }
  }

  onStateChange(listener: (handle: AttemptHandle, status: AttemptStatus) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.reserved.keys()].map((key) => this.cancelReserved(key)));
    const attempts = [...this.attempts.values()];
    for (const attempt of attempts) this.stop(attempt);
    await Promise.all(attempts.map((attempt) => attempt.finished));
    // Also waits for launches still starting (they stop themselves on seeing `closed`).
    await this.spawner.close();
    await this.sandbox.close();
  }

  /**
   * SIGTERM to every process of the attempt now, SIGKILL after the grace period. Sandboxed,
   * "every process" is the sandbox's PID namespace (a job cannot leave it, as it can leave a
   * process group), and SIGKILL goes to bwrap, whose end kills the whole namespace.
   */
  private stop(attempt: LocalAttempt): void {
    if (attempt.exited || attempt.terminateRequested) return;
    attempt.terminateRequested = true;
    this.options.log?.info({ jobId: attempt.handle.jobId, attempt: attempt.handle.attempt }, 'terminating local job');
    if (attempt.sandbox) this.signalSandbox(attempt, 'SIGTERM');
    // Sandboxed but not reported yet (milliseconds after the start): the SIGTERM goes out when
    // it is (sandboxStatus). Never to bwrap itself: killed while it sets up, before its child
    // is bound to it (--die-with-parent), it leaves the sandbox running unwatched.
    else if (!this.sandbox.sandboxed) signalGroup(attempt.pgid, 'SIGTERM');
    this.armKill(attempt);
  }

  private signalSandbox(attempt: LocalAttempt, signal: NodeJS.Signals): void {
    const { pidNamespace, initPid } = attempt.sandbox!;
    try {
      signalNamespace(pidNamespace, signal, initPid);
    } catch (err) {
      this.options.log?.warn({ jobId: attempt.handle.jobId, attempt: attempt.handle.attempt, err: errorCode(err) ?? String(err) }, 'signalling a sandboxed job failed; ending its sandbox');
      signalGroup(attempt.pgid, 'SIGKILL');
    }
  }

  /** bwrap's status lines: the first names the sandbox's PID namespace and PID 1 (its exit status comes from the process itself). */
  private sandboxStatus(attempt: LocalAttempt, line: string): void {
    const status = parseSandboxStatus(line);
    if (attempt.sandbox || status?.pidNamespace === undefined || status.childPid === undefined) return;
    attempt.sandbox = { pidNamespace: status.pidNamespace, initPid: status.childPid };
    if (attempt.terminateRequested && !attempt.exited) this.signalSandbox(attempt, 'SIGTERM');
  }

  private armKill(attempt: LocalAttempt): void {
    attempt.killTimer ??= setTimeout(() => {
      // Not reported yet: bwrap still sets up, and killing it now would leave the sandbox
      // unwatched (see stop). The grace starts again; the report brings the SIGTERM meanwhile.
      if (this.sandbox.sandboxed && !attempt.sandbox && !attempt.exited) {
        attempt.killTimer = undefined;
        this.armKill(attempt);
        return;
      }
      // SIGKILL to the sandbox's PID 1 ends its whole namespace, whatever bwrap does.
      const sandbox = attempt.sandbox;
      if (sandbox && !namespaceEnded(sandbox.pidNamespace, sandbox.initPid)) signalPid(sandbox.initPid, 'SIGKILL');
      // A sandbox whose bwrap has exited is gone, and its group id may be another's by now.
      if (!(attempt.exited && attempt.sandbox)) signalGroup(attempt.pgid, 'SIGKILL');
    }, this.graceMs);
  }

  /**
   * Whether every process of the attempt's sandbox has ended: its work dir is removed (as root)
   * and its uid given to another attempt only then. bwrap exits after its PID 1 in the normal
   * course, but when bwrap itself was killed its namespace ends a moment later.
   */
  private async sandboxEnded(attempt: LocalAttempt): Promise<boolean> {
    const sandbox = attempt.sandbox;
    if (!sandbox) return true;
    const deadline = Date.now() + this.graceMs + PIPE_CLOSE_TIMEOUT_MS;
    while (!namespaceEnded(sandbox.pidNamespace, sandbox.initPid)) {
      if (Date.now() >= deadline) return false;
      await sleep(GROUP_POLL_MS);
    }
    return true;
  }

  /** Takes a work dir and uid for an attempt; a failure is the launch's BackendError. */
  private async lease(): Promise<AttemptLease> {
    try {
      return await this.sandbox.lease();
    } catch (err) {
      if (err instanceof BackendError) throw err;
      throw new BackendError(`local backend: preparing the job's work dir: ${errorCode(err) ?? String(err)}`, (err as Error).name === 'SandboxUnavailableError' ? (err as Error).message : 'the job directory could not be created');
    }
  }

  /** Writes the masked output, then, once the shell exits, ends the group and publishes the outcome. */
  private async supervise(attempt: LocalAttempt, shell: SpawnedShell, logFd: number, masker: LogMasker, lease: AttemptLease): Promise<void> {
    const log = this.options.log;
    const fields = { jobId: attempt.handle.jobId, attempt: attempt.handle.attempt };
    const out = createWriteStream('', { fd: logFd });
    const writer = new MaskedLogWriter(out, masker, shell, () => attempt.changes.emit('change'), (err) => log?.error({ ...fields, err: errorCode(err) ?? String(err) }, 'writing a job log failed'));
    const pipesClosed = shell.outputClosed.then(() => true);
    const exit = await shell.exited;
    attempt.exited = true;
    const outcome = this.outcome(attempt, exit);
    // Like a container's end: whatever the shell left behind in its group goes too.
    if (groupAlive(attempt.pgid)) {
      if (!attempt.terminateRequested) signalGroup(attempt.pgid, 'SIGTERM');
      this.armKill(attempt);
      // Gone means reaped: orphans that died stay in the group until PID 1 reaps them (run the server under an init).
      if (!(await groupGone(attempt.pgid, this.graceMs + PIPE_CLOSE_TIMEOUT_MS))) log?.warn(fields, 'processes of a local job outlived SIGKILL, or are not reaped');
    }
    clearTimeout(attempt.killTimer);
    const closed = await Promise.race([pipesClosed, sleep(PIPE_CLOSE_TIMEOUT_MS, false)]);
    if (!closed) {
      // A process that left the group still holds the pipes: stop reading.
      log?.warn(fields, 'output pipes of a local job stayed open after its processes ended');
      shell.abandonOutput();
    }
    await writer.finish();
    if (await this.sandboxEnded(attempt)) await lease.release();
    else log?.error(fields, 'processes of a sandboxed job outlived it; its work dir and uid stay taken');
    attempt.status = { ...attempt.status, ...outcome, endTime: this.now() };
    log?.info({ ...fields, state: attempt.status.state, exitCode: attempt.status.exitCode }, 'local job ended');
    attempt.changes.emit('change');
    this.notify(attempt);
  }

  /**
   * An attempt that ended leaves memory (a long-running server launches without end): its
   * outcome goes to its status file, which status() reads from then on. If that write fails
   * it stays in memory.
   */
  private async forget(attempt: LocalAttempt, paths: AttemptPaths): Promise<void> {
    if (!isTerminal(attempt.status)) return;
    try {
      await writeFile(paths.statusFile, JSON.stringify(attempt.status), { mode: 0o600 });
    } catch (err) {
      this.options.log?.warn({ jobId: attempt.handle.jobId, attempt: attempt.handle.attempt, err: errorCode(err) ?? String(err) }, 'writing a job status file failed');
      return;
    }
    this.attempts.delete(this.key(attempt.handle));
  }

  /** Not expected; but an attempt must never stay RUNNING forever, nor its failure go unhandled. */
  private lostTrack(attempt: LocalAttempt, err: unknown): void {
    this.options.log?.error({ jobId: attempt.handle.jobId, attempt: attempt.handle.attempt, err }, 'supervising a local job failed');
    if (isTerminal(attempt.status)) return;
    attempt.status = { ...attempt.status, state: 'FAILED', message: 'the local backend lost track of the attempt', endTime: this.now() };
    attempt.changes.emit('change');
    this.notify(attempt);
  }

  private outcome(attempt: LocalAttempt, { code, signal, lost }: ShellExit): AttemptStatus {
    const exitCode = code ?? undefined;
    if (attempt.terminateRequested) return { state: 'CANCELLED', exitCode, message: 'terminated' };
    if (lost) return { state: 'FAILED', message: SPAWNER_LOST_MESSAGE };
    if (code === 0) return { state: 'SUCCEEDED', exitCode };
    if (signal) return { state: 'FAILED', message: `killed by signal ${signal}` };
    // bwrap reports a job's end by a signal as 128 + its number (what a shell would say, too).
    const asSignal = this.sandbox.sandboxed && code !== null && code > 128 ? signalName(code - 128) : undefined;
    return { state: 'FAILED', exitCode, message: `exited with code ${code}${asSignal ? ` (as on ${asSignal})` : ''}` };
  }

  private notify(attempt: LocalAttempt): void {
    for (const listener of this.listeners) {
      try {
        listener(attempt.handle, { ...attempt.status });
      } catch (err) {
        this.options.log?.error({ jobId: attempt.handle.jobId, attempt: attempt.handle.attempt, err }, 'a state listener failed');
      }
    }
  }

  private async requireLog(handle: AttemptHandle): Promise<void> {
    const { logFile } = this.paths(handle.jobId, handle.attempt);
    await stat(logFile).catch(() => {
      throw unknownAttempt(handle);
    });
  }

  private key(handle: AttemptHandle): string {
    this.paths(handle.jobId, handle.attempt);
    return attemptKey(handle.jobId, handle.attempt);
  }

  /** Also validates the parts that become path components. */
  private paths(jobId: string, attempt: number): AttemptPaths {
    if (!JOB_ID.test(jobId) || jobId === '.' || jobId === '..') throw invalid(`invalid job id ${JSON.stringify(jobId.slice(0, 140))}`);
    if (!Number.isSafeInteger(attempt) || attempt < 1) throw invalid(`invalid attempt number ${attempt}`);
    const jobDir = path.join(this.options.dataDir, 'jobs', jobId);
    const attemptDir = path.join(jobDir, `attempt-${attempt}`);
    return { jobDir, attemptDir, logFile: `${attemptDir}.log`, statusFile: path.join(attemptDir, 'status.json') };
  }
}

function signalName(number: number): string | undefined {
  return Object.entries(os.constants.signals).find(([, value]) => value === number)?.[0];
}

function unknownAttempt(handle: AttemptHandle): BackendError {
  return invalid(`unknown attempt ${handle.attempt} of job ${handle.jobId}`);
}

/**
 * The job's whole environment. Built from nothing: the server's own environment (its
 * credentials) never reaches a job.
 */
function jobEnvironment(spec: AttemptSpec): Record<string, string> {
  // HOME, unless the job sets it, is set once the work dir is known (where the job sees it).
  return runEnvironment({ PATH: JOB_PATH, LANG: 'C.UTF-8', VESSL_JOB_ID: spec.jobId, VESSL_JOB_ATTEMPT: String(spec.attempt) }, spec, invalid);
}

/** Files only in a sandbox, each path under its roots, once, none inside another (the launcher checked them; this is where the mount is made). */
function checkSecretFiles(spec: AttemptSpec, support: SecretFileSupport): void {
  const files = spec.secretFiles ?? [];
  if (files.length === 0) return;
  if (support.refusal !== undefined) throw new BackendPreconditionError(`local backend: ${support.refusal}`, support.refusal, 'SECRET_FILES_UNSUPPORTED');
  const [first] = secretFilePathProblems(files.map((f) => f.path), support.roots, (i) => `the file of secret "${files[i].secretName}"`);
  if (first) throw invalid(`secret file of "${files[first.index].secretName}": ${first.problem}`);
}

/** The file calls createAttemptFiles makes: blocking ones, or the thread pool's. */
interface FileCalls {
  mkdir(dir: string, options: MakeDirectoryOptions): unknown;
  open(file: string, flags: string, mode: number): number | Promise<number>;
}

/** A launch made without reserve() makes its files at once: four trips through the thread pool took longer. */
const BLOCKING_FILES: FileCalls = { mkdir: mkdirSync, open: openSync };
/** reserve() makes them while the event loop does the launch's other work (fs.open: an fd, not a FileHandle that closes it when collected). */
const THREAD_POOL_FILES: FileCalls = { mkdir, open: promisify(openFd) };

/**
 * Creates the attempt's private directories and its log file (open for writing); nothing is
 * left behind on failure.
 */
async function createAttemptFiles(paths: AttemptPaths, spec: Pick<AttemptSpec, 'jobId' | 'attempt'>, calls: FileCalls): Promise<number> {
  await calls.mkdir(paths.jobDir, { recursive: true, mode: 0o700 });
  try {
    await calls.mkdir(paths.attemptDir, { mode: 0o700 });
  } catch (err) {
    if (errorCode(err) === 'EEXIST') throw invalid(`attempt ${spec.attempt} of job ${spec.jobId} already exists`);
    throw new BackendError(`local backend: creating ${paths.attemptDir}: ${errorCode(err)}`, 'the job directory could not be created');
  }
  try {
    return await calls.open(paths.logFile, 'wx', 0o600);
  } catch (err) {
    await removeAttemptFiles(paths);
    throw new BackendError(`local backend: creating the files of ${paths.attemptDir}: ${errorCode(err)}`, 'the job directory could not be created');
  }
}

/** What forget() wrote: the attempt's last status (undefined when there is none). */
async function readStatusFile(file: string): Promise<AttemptStatus | undefined> {
  let saved: Omit<AttemptStatus, 'startTime' | 'endTime'> & { startTime?: string; endTime?: string };
  try {
    saved = JSON.parse(await readFile(file, 'utf8')) as typeof saved;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    // Unreadable, or not the JSON forget() writes (cut short by a crash, edited by hand).
    throw new BackendError(`local backend: reading ${file}: ${errorCode(err) ?? String(err)}`, 'the job status could not be read');
  }
  const { startTime, endTime, ...rest } = saved;
  return { ...rest, ...(startTime && { startTime: new Date(startTime) }), ...(endTime && { endTime: new Date(endTime) }) };
}

/** Removes files made ahead for a launch that does not use them (nothing when making them failed: that removed its own). */
async function discardFiles({ paths, logFd, lease }: ReservedFiles): Promise<void> {
  await lease.then((taken) => taken.release()).catch(() => undefined);
  const fd = await logFd.catch(() => undefined);
  if (fd === undefined) return;
  closeSync(fd);
  await removeAttemptFiles(paths);
}

async function removeAttemptFiles(paths: AttemptPaths): Promise<void> {
  await rm(paths.attemptDir, { recursive: true, force: true });
  await rm(paths.logFile, { force: true });
  // The job's directory goes too if this attempt was all it held.
  await rmdir(paths.jobDir).catch(() => undefined);
}

/** Signals every process of the group; one that is gone already, or not ours to signal (EPERM), is no error. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left to signal. EPERM: a member changed user; the wait for the group reports it.
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: gone already.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return errorCode(err) !== 'ESRCH';
  }
}

async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await sleep(GROUP_POLL_MS);
  }
  return true;
}

/**
 * Masks stdout and stderr, in arrival order, on their way to the log: the raw output never
 * touches the disk. Reading pauses while the file lags behind.
 */
class MaskedLogWriter {
  private failed = false;
  private ended = false;
  private paused = false;

  constructor(
    private readonly out: WriteStream,
    private readonly masker: LogMasker,
    private readonly shell: SpawnedShell,
    private readonly written: () => void,
    onError: (err: unknown) => void,
  ) {
    out.on('error', (err) => {
      this.failed = true;
      onError(err);
      this.resume();
    });
    out.on('drain', () => this.resume());
    shell.onOutput((chunk) => this.onOutput(chunk));
  }

  /** Flushes what the masker held back, closes the file and forgets the values. */
  async finish(): Promise<void> {
    this.ended = true;
    this.write(this.masker.end());
    if (this.failed) return;
    const done = once(this.out, 'finish').catch(() => undefined);
    this.out.end();
    await done;
  }

  private onOutput(chunk: Buffer): void {
    // Output still buffered in a pipe destroyed at the end is dropped: the masker is gone.
    if (!this.ended) this.write(this.masker.push(chunk));
  }

  private write(masked: Buffer): void {
    if (this.failed || masked.length === 0) return;
    if (!this.out.write(masked, () => this.written()) && !this.paused) {
      this.paused = true;
      this.shell.pause();
    }
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.shell.resume();
  }
}

/** Reads from `position` to the current end of the file. */
async function* readFrom(file: FileHandle, position: number): AsyncIterable<Buffer> {
  for (;;) {
    const buffer = Buffer.allocUnsafe(READ_BLOCK);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** Where the last `lines` lines start (a final newline ends the last line). */
async function tailOffset(file: FileHandle, lines: number): Promise<number> {
  const { size } = await file.stat();
  const buffer = Buffer.alloc(READ_BLOCK);
  let seen = 0;
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - buffer.length);
    const { bytesRead } = await file.read(buffer, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buffer[i] !== NEWLINE || start + i === size - 1) continue;
      if (++seen === lines) return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/** Resolves at the next 'change', or after `ms` at the latest. */
function nextChange(changes: EventEmitter, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      changes.off('change', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    changes.once('change', done);
  });
}
