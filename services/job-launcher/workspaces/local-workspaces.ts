import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync } from 'node:fs';
import { lchown, lstat, mkdir, readdir, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../runtime/logger.js';
import { secretFilePathProblems } from '../../runtime/secret-file-paths.js';
import { BackendError, BackendPreconditionError, type SecretFileEntry, type SecretFileSupport } from '../backend.js';
import { closeInheritedFds } from '../backends/inherited-fds.js';
import { onStatusLines, spawnCommand } from '../backends/spawn-command.js';
import { parseSandboxStatus, SANDBOX_FILE_ROOTS, SANDBOX_HOME, STATUS_FD, type SandboxNetwork } from '../sandbox/bubblewrap.js';
import { JobSandbox, removeTree, type AttemptLease, type UidRange } from '../sandbox/job-sandbox.js';
import { namespaceEnded, processTree, signalNamespace } from '../sandbox/pid-namespace.js';
import type { ExecProcess, ExecRequest, WorkspaceBackend, WorkspaceHandle, WorkspaceSpec, WorkspaceStatus } from './workspace-backend.js';
import { WORKSPACE_ID_PATTERN } from './rules.js';
import { workspaceEnvironment } from './workspace-environment.js';
import { noPythonForTty, PYTHON, runInside, startExec, type RunEntry } from './workspace-exec.js';
import { homeLinkScript, homeUnlinkScript, openFilesRoot, RunFiles, splitFilePath } from './workspace-files.js';

/**
 * The local workspace backend (docs/isolation.md, "Workspaces"): each run is a long-running
 * bubblewrap sandbox made exactly as a job attempt's (../sandbox/), whose HOME is a directory
 * of the workspace that outlives its runs, entered for exec with nsenter (workspace-exec.ts),
 * and whose secret files live in a memory-backed host directory bound read-only into it
 * (workspace-files.ts), so that they can be rewritten while it runs.
 */

export interface LocalWorkspaceBackendOptions {
  /** The server's data dir: no workspace sees it; the default roots are derived from it. */
  dataDir: string;
  /** Where each workspace's home is kept between runs (default: defaultWorkspaceHomeRoot(dataDir)). */
  homeRoot?: string;
  /** The memory-backed directory of the runs' secret files (default: defaultWorkspaceFilesRoot(dataDir), on /dev/shm). */
  filesRoot?: string;
  /** Whether runs share the host's network (default) or get none. */
  network?: SandboxNetwork;
  /** Host uids (and gids) for runs; must not overlap the jobs' range (default DEFAULT_WORKSPACE_UIDS). */
  uids?: UidRange;
  /** The python3 for terminals (the tty relay), a path under /usr (default /usr/bin/python3). */
  ttyPython?: string;
  /** How long a stopped run's processes get between SIGTERM and SIGKILL (default 5 s). */
  stopGraceMs?: number;
  now?: () => Date;
  log?: Logger;
}

/** The 65,536 uids after the jobs' (DEFAULT_UIDS): a workspace never shares a uid with a job. */
export const DEFAULT_WORKSPACE_UIDS: UidRange = { first: 2_000_065_536, count: 65_536 };
/** The message of a run that ended by itself with status `code`. */
export const exitMessage = (code: number) => `its command exited with status ${code}`;
export const RESTARTED_MESSAGE = 'server restarted';

const DEFAULT_STOP_GRACE_MS = 5000;
const POLL_MS = 50;
/** How long start() waits for bwrap to report its sandbox. */
const START_TIMEOUT_MS = 30_000;
/** The main process of a workspace without a command. */
const IDLE_COMMAND = 'exec sleep infinity';

const tagOf = (dataDir: string) => createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);

/** Beside the jobs' work root (defaultWorkRoot), never inside it: its sweep at each start must not take homes. */
export function defaultWorkspaceHomeRoot(dataDir: string): string {
  return path.join(os.tmpdir(), `vessl-workspaces-${process.getuid?.() ?? 0}-${tagOf(dataDir)}`);
}

/** On /dev/shm: memory-backed (checked at open). */
export function defaultWorkspaceFilesRoot(dataDir: string): string {
  return path.join('/dev/shm', `vessl-workspace-files-${process.getuid?.() ?? 0}-${tagOf(dataDir)}`);
}

export function createLocalWorkspaceBackend(options: LocalWorkspaceBackendOptions): WorkspaceBackend {
  return new LocalWorkspaceBackend(options);
}

interface Run {
  handle: WorkspaceHandle;
  uid?: number;
  releaseUid(): void;
  env: Record<string, string>;
  network: SandboxNetwork;
  bwrap: ChildProcess;
  /** The sandbox's PID namespace and PID 1, once bwrap reports them. */
  sandbox?: { pidNamespace: number; initPid: number };
  files?: RunFiles;
  /** HOME paths that are links to their files now. */
  homeLinks: Set<string>;
  status: WorkspaceStatus;
  stopping: boolean;
  /** bwrap has exited (the main process ended). */
  exited: boolean;
  /** Settles once bwrap has reported the sandbox (rejects: it did not start, and nothing of it runs). */
  launched: Promise<void>;
  /** Settles once every process of the run is gone and its files are removed. */
  ended: Promise<void>;
}

const invalid = (publicMessage: string) => new BackendError(`local workspaces: ${publicMessage}`, publicMessage);
const notRunning = (handle: WorkspaceHandle) =>
  new BackendPreconditionError(`local workspaces: run ${handle.run} of ${handle.workspaceId} is not running`, 'the workspace is not running; start it first', 'WORKSPACE_NOT_RUNNING');
const errorCode = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);

class LocalWorkspaceBackend implements WorkspaceBackend {
  readonly name = 'local' as const;
  readonly warnings: string[] = [];
  readonly secretFiles: SecretFileSupport;
  /** Live runs, by workspace id (one at a time per workspace). */
  private readonly runs = new Map<string, Run>();
  /** Workspaces whose start() is under way (before their run is in `runs`). */
  private readonly starting = new Set<string>();
  /** How each workspace's last run ended, while this server runs. */
  private readonly lastEnded = new Map<string, { run: number; status: WorkspaceStatus }>();
  private readonly listeners: ((handle: WorkspaceHandle, status: WorkspaceStatus) => void)[] = [];
  private readonly sandbox: JobSandbox;
  private readonly homeRoot: string;
  private readonly filesRoot: string;
  private readonly network: SandboxNetwork;
  /** The runs' host uids: a home's entries owned by one of them are the workspace's. */
  private readonly uids: UidRange;
  private readonly graceMs: number;
  private readonly now: () => Date;
  private closed = false;

  /** Throws SandboxUnavailableError (its message names the fix) when runs cannot be sandboxed here. */
  constructor(private readonly options: LocalWorkspaceBackendOptions) {
    this.homeRoot = path.resolve(options.homeRoot ?? defaultWorkspaceHomeRoot(options.dataDir));
    this.filesRoot = path.resolve(options.filesRoot ?? defaultWorkspaceFilesRoot(options.dataDir));
    this.network = options.network ?? 'shared';
    this.uids = options.uids ?? DEFAULT_WORKSPACE_UIDS;
    this.graceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.now = options.now ?? (() => new Date());
    // Runs and execs are spawned by this process itself (jobs by a spawner that does the same):
    // a descriptor its parent left open would pass into every workspace. Node's own IPC channel stays.
    closeInheritedFds(ipcChannelFds());
    prepareHomeRoot(this.homeRoot);
    // Its work root (for the probe sandbox only) sits in the home root: swept at each open, as homes are not.
    this.sandbox = JobSandbox.open(
      { kind: 'bubblewrap', network: this.network, workRoot: path.join(this.homeRoot, '.probe'), uids: this.uids },
      [options.dataDir, this.filesRoot],
    );
    const refusal = openFilesRoot(this.filesRoot);
    if (refusal) options.log?.warn(refusal);
    this.secretFiles = { roots: SANDBOX_FILE_ROOTS, refusal };
  }

  async start(spec: WorkspaceSpec): Promise<{ ref: string; status?: WorkspaceStatus }> {
    if (this.closed) throw invalid('the local workspace backend is shutting down');
    checkIdentity(spec.workspaceId, spec.run);
    const env = workspaceEnvironment(spec);
    this.checkFiles(spec.secretFiles);
    if (this.runs.has(spec.workspaceId) || this.starting.has(spec.workspaceId)) throw invalid(`workspace ${spec.workspaceId} is running already`);
    this.starting.add(spec.workspaceId);
    try {
      return await this.startRun(spec, env);
    } finally {
      this.starting.delete(spec.workspaceId);
    }
  }

  private async startRun(spec: WorkspaceSpec, env: Record<string, string>): Promise<{ ref: string; status?: WorkspaceStatus }> {
    const handle: WorkspaceHandle = { org: spec.org, workspaceId: spec.workspaceId, run: spec.run, ref: `${spec.workspaceId}/${spec.run}` };
    const { uid, release } = this.sandbox.leaseUid();
    let files: RunFiles | undefined;
    try {
      const home = await this.prepareHome(spec.workspaceId, uid);
      if (this.secretFiles.refusal === undefined) files = await RunFiles.create(this.filesRoot, `${spec.workspaceId}-${spec.run}`, uid);
      for (const file of spec.secretFiles) await files!.write(file.path, file.value);
      const homePaths = spec.secretFiles.map((f) => f.path);
      const links = homeLinkScript(homePaths);
      // The links are made by the run's own shell, as its user, before its command: never by root in a directory the user controls.
      const command = `${links ? `{\n${links}\n} >/dev/null 2>&1\n` : ''}${spec.command.trim() === '' ? IDLE_COMMAND : spec.command}`;
      const lease: AttemptLease = { workDir: home, home: SANDBOX_HOME, uid, release: async () => undefined };
      const bwrap = spawnCommand(this.sandbox.command(lease, command, env, [], files?.binds ?? []));
      const run: Run = {
        handle,
        uid,
        releaseUid: release,
        env,
        network: this.network,
        bwrap,
        files,
        homeLinks: new Set(homePaths.filter((p) => splitFilePath(p).base === 'home')),
        status: { state: 'RUNNING', startTime: this.now() },
        stopping: false,
        exited: false,
        launched: Promise.resolve(),
        ended: Promise.resolve(),
      };
      this.runs.set(spec.workspaceId, run);
      run.launched = this.launch(run);
      await run.launched.catch((err: unknown) => {
        this.runs.delete(spec.workspaceId);
        throw err;
      });
      // Made by the run's shell before its command, and here again (idempotent) so that they exist once start() resolves.
      if (links && !run.exited) await this.inside(run, links).catch(async (err: unknown) => {
        // A command that ended at once took its namespaces with it: its end is reported as any other's.
        if (run.exited) return;
        await this.end(run);
        throw err;
      });
      // close() ran meanwhile: no run may outlive the backend.
      if (this.closed) {
        await this.end(run);
        throw invalid('the local workspace backend is shutting down');
      }
      this.options.log?.info({ workspaceId: spec.workspaceId, run: spec.run }, 'local workspace started');
      return { ref: handle.ref, status: { ...run.status } };
    } catch (err) {
      await files?.destroy();
      release();
      if (err instanceof BackendError) throw err;
      this.options.log?.warn({ workspaceId: spec.workspaceId, run: spec.run, err: errorCode(err) }, 'local workspace did not start');
      throw new BackendError(`local workspaces: starting ${spec.workspaceId}: ${errorCode(err)}`, 'the workspace could not be started');
    }
  }

  async status(handle: WorkspaceHandle): Promise<WorkspaceStatus> {
    checkIdentity(handle.workspaceId, handle.run);
    const run = this.runs.get(handle.workspaceId);
    if (run?.handle.run === handle.run) return { ...run.status };
    const last = this.lastEnded.get(handle.workspaceId);
    if (last?.run === handle.run) return { ...last.status };
    // Not run by this process: the server restarted under it (its sandbox died with the old one).
    return { state: 'FAILED', message: RESTARTED_MESSAGE };
  }

  async stop(handle: WorkspaceHandle): Promise<void> {
    checkIdentity(handle.workspaceId, handle.run);
    const run = this.runs.get(handle.workspaceId);
    if (!run || run.handle.run !== handle.run) return;
    await this.end(run);
  }

  async remove(org: string, workspaceId: string): Promise<void> {
    checkIdentity(workspaceId, 1);
    const run = this.runs.get(workspaceId);
    if (run) await this.end(run);
    await removeTree(this.homeOf(workspaceId));
    this.lastEnded.delete(workspaceId);
  }

  async exec(handle: WorkspaceHandle, request: ExecRequest): Promise<ExecProcess> {
    const run = this.liveRun(handle);
    const python = this.options.ttyPython ?? PYTHON;
    if (request.tty && !existsSync(python)) throw new BackendPreconditionError(`local workspaces: ${noPythonForTty(python)}`, noPythonForTty(python), 'TERMINAL_UNAVAILABLE');
    try {
      return await startExec(this.entry(run), request);
    } catch (err) {
      throw new BackendError(`local workspaces: exec in ${handle.workspaceId}: ${errorCode(err)}`, 'the command could not be started in the workspace');
    }
  }

  async writeFile(handle: WorkspaceHandle, file: SecretFileEntry): Promise<void> {
    const run = this.liveRun(handle);
    this.checkFiles([file]);
    await run.files!.write(file.path, file.value).catch((err: unknown) => {
      // E.g. ENOTDIR: another secret's file is where this path needs a directory.
      throw new BackendError(`local workspaces: writing the file of secret "${file.secretName}" in ${handle.workspaceId}: ${errorCode(err)}`, `the file of secret "${file.secretName}" could not be written in the workspace`);
    });
    if (splitFilePath(file.path).base === 'home' && !run.homeLinks.has(file.path)) {
      await this.inside(run, homeLinkScript([file.path]));
      run.homeLinks.add(file.path);
    }
  }

  async removeFile(handle: WorkspaceHandle, filePath: string): Promise<void> {
    const run = this.liveRun(handle);
    this.checkFiles([{ path: filePath, value: new Uint8Array(), secretName: 'removed', version: 0 }]);
    await run.files!.remove(filePath).catch((err: unknown) => {
      throw new BackendError(`local workspaces: removing ${filePath} in ${handle.workspaceId}: ${errorCode(err)}`, 'the secret file could not be removed from the workspace');
    });
    if (run.homeLinks.delete(filePath)) await this.inside(run, homeUnlinkScript(filePath));
  }

  onStateChange(listener: (handle: WorkspaceHandle, status: WorkspaceStatus) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.runs.values()].map((run) => this.end(run)));
    await this.sandbox.close();
    // Left when empty only: the files root then holds nothing, the home root no home.
    for (const root of [this.filesRoot, this.homeRoot]) await rmdir(root).catch(() => undefined);
  }

  /** Starts watching bwrap and resolves once it reported the sandbox (or rejects: nothing left running). */
  private async launch(run: Run): Promise<void> {
    const { bwrap } = run;
    // The main process's output goes nowhere (exec is how one talks to a workspace); it must not fill a pipe.
    bwrap.stdout?.resume();
    bwrap.stderr?.resume();
    const exited = new Promise<number>((resolve) =>
      bwrap.once('exit', (code, signal) => {
        run.exited = true;
        resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
      }),
    );
    const status = bwrap.stdio[STATUS_FD] as Readable;
    // Everything bwrap reported has been read (it closes the pipe as it exits).
    const statusRead = new Promise<void>((resolve) => status.once('close', resolve));
    const reported = new Promise<void>((resolve, reject) => {
      bwrap.once('error', reject);
      // Line by line: a command that ends at once has its sandbox's line and its exit's in one read.
      onStatusLines(status, (line) => {
        const parsed = parseSandboxStatus(line);
        if (run.sandbox || parsed?.pidNamespace === undefined || parsed.childPid === undefined) return;
        run.sandbox = { pidNamespace: parsed.pidNamespace, initPid: parsed.childPid };
        resolve();
      });
    });
    // bwrap reports its PID 1 before that has entered the sandbox's last user namespace (the one
    // --disable-userns makes): the run can be entered once PID 1 has started the main process.
    const entered = reported.then(() => mainProcessStarted(run.sandbox!.initPid, exited));
    // A command that ends at once still started: its end is reported as any other's. Node may
    // tell of bwrap's exit before it has read what bwrap reported (under load it did): whether
    // the sandbox started is known once the report is read to its end.
    const endedAtOnce = exited.then(() => statusRead).then(() => (run.sandbox ? 'running' : 'exited') as 'running' | 'exited');
    const outcome = await Promise.race([entered.then(() => 'running' as const), endedAtOnce, sleep(START_TIMEOUT_MS, 'timeout' as const)]);
    if (outcome !== 'running') {
      bwrap.kill('SIGKILL');
      throw new BackendError(`local workspaces: the sandbox of ${run.handle.workspaceId} did not start (${outcome})`, 'the workspace sandbox could not be started');
    }
    run.ended = exited.then((code) => this.ended(run, code));
  }

  /** The main process ended (by itself, or stopped): the sandbox goes, with the run's files and uid. */
  private async ended(run: Run, code: number): Promise<void> {
    await this.sandboxGone(run);
    await run.files?.destroy().catch((err: unknown) => this.options.log?.error({ workspaceId: run.handle.workspaceId, err: errorCode(err) }, 'removing a workspace run\'s files failed'));
    // Between runs the home is the server's: its uid may go to another run meanwhile (the next start gives it to the new one).
    if (run.uid !== undefined) await lchown(this.homeOf(run.handle.workspaceId), process.getuid!(), process.getgid!()).catch(() => undefined);
    run.releaseUid();
    const byItself = !run.stopping;
    run.status = {
      ...run.status,
      state: byItself && code !== 0 ? 'FAILED' : 'STOPPED',
      ...(byItself ? { exitCode: code, message: exitMessage(code) } : { message: 'stopped' }),
      endTime: this.now(),
    };
    if (this.runs.get(run.handle.workspaceId) === run) this.runs.delete(run.handle.workspaceId);
    this.lastEnded.set(run.handle.workspaceId, { run: run.handle.run, status: run.status });
    this.options.log?.info({ workspaceId: run.handle.workspaceId, run: run.handle.run, state: run.status.state }, 'local workspace ended');
    if (byItself) this.notify(run);
  }

  /** SIGTERM to every process of the sandbox, SIGKILL to its PID 1 (the whole namespace) after the grace; resolves once all is gone. */
  private async end(run: Run): Promise<void> {
    // Stopped (or closed) while it starts: never signal bwrap before it reported its sandbox
    // (killed while it sets up, it could leave the sandbox running unwatched).
    if (!(await run.launched.then(() => true, () => false))) return;
    if (!run.stopping) {
      run.stopping = true;
      const { pidNamespace, initPid } = run.sandbox!;
      try {
        signalNamespace(pidNamespace, 'SIGTERM', initPid);
      } catch {
        // not ours to signal any more: the SIGKILL below ends it
      }
      const timer = setTimeout(() => {
        if (!namespaceEnded(pidNamespace, initPid)) signalPid(initPid, 'SIGKILL');
        signalPid(run.bwrap.pid!, 'SIGKILL');
      }, this.graceMs);
      void run.ended.finally(() => clearTimeout(timer));
    }
    await run.ended;
  }

  private async sandboxGone(run: Run): Promise<void> {
    const { pidNamespace, initPid } = run.sandbox!;
    // bwrap exits after its PID 1 in the normal course; killed itself, its namespace ends a moment later.
    const deadline = Date.now() + this.graceMs + START_TIMEOUT_MS;
    while (!namespaceEnded(pidNamespace, initPid)) {
      if (Date.now() > deadline) {
        this.options.log?.error({ workspaceId: run.handle.workspaceId }, 'processes of a workspace outlived its sandbox');
        return;
      }
      signalPid(initPid, 'SIGKILL');
      await sleep(POLL_MS);
    }
  }

  private liveRun(handle: WorkspaceHandle): Run {
    checkIdentity(handle.workspaceId, handle.run);
    const run = this.runs.get(handle.workspaceId);
    if (!run || run.handle.run !== handle.run || run.stopping || run.exited) throw notRunning(handle);
    return run;
  }

  private entry(run: Run): RunEntry {
    const id = run.uid ?? process.getuid!();
    return { targetPid: run.sandbox!.initPid, uid: id, gid: run.uid ?? process.getgid!(), network: run.network, env: run.env, python: this.options.ttyPython };
  }

  /** Runs a shell script in the run, as its user (making or removing a HOME link). */
  private async inside(run: Run, script: string): Promise<void> {
    const { code } = await runInside(this.entry(run), ['/bin/sh', '-c', script]);
    if (code !== 0) throw new BackendError(`local workspaces: a secret file link in ${run.handle.workspaceId} could not be updated (status ${code})`, 'the secret file could not be linked in the workspace\'s home');
  }

  /** File secrets only where they can be memory-backed, each path under the roots (re-checked here: this is where files are written). */
  private checkFiles(files: readonly SecretFileEntry[]): void {
    if (files.length === 0) return;
    const { refusal, roots } = this.secretFiles;
    if (refusal !== undefined) throw new BackendPreconditionError(`local workspaces: ${refusal}`, refusal, 'SECRET_FILES_UNSUPPORTED');
    const [first] = secretFilePathProblems(files.map((f) => f.path), roots, (i) => `the file of secret "${files[i].secretName}"`);
    if (first) throw invalid(`secret file of "${files[first.index].secretName}": ${first.problem}`);
  }

  private homeOf(workspaceId: string): string {
    return path.join(this.homeRoot, workspaceId);
  }

  /** The workspace's home, made on its first run, and given (all of it) to this run's uid. */
  private async prepareHome(workspaceId: string, uid: number | undefined): Promise<string> {
    const home = this.homeOf(workspaceId);
    await mkdir(home, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    if (uid !== undefined) {
      const { first, count } = this.uids;
      await chownTree(home, uid, (owner) => owner >= first && owner < first + count);
      // The home itself is the server's between runs.
      await lchown(home, uid, uid);
    }
    return home;
  }

  private notify(run: Run): void {
    for (const listener of this.listeners) {
      try {
        listener(run.handle, { ...run.status });
      } catch (err) {
        this.options.log?.error({ workspaceId: run.handle.workspaceId, err }, 'a workspace state listener failed');
      }
    }
  }
}

/** The descriptor of this process's IPC channel to its parent (a fork()ed server), if it has one. */
function ipcChannelFds(): number[] {
  const fd = (process.channel as { fd?: unknown } | undefined)?.fd;
  return typeof fd === 'number' ? [fd] : [];
}

function checkIdentity(workspaceId: string, run: number): void {
  if (!WORKSPACE_ID_PATTERN.test(workspaceId)) throw invalid(`invalid workspace id ${JSON.stringify(workspaceId.slice(0, 40))}`);
  if (!Number.isSafeInteger(run) || run < 1) throw invalid(`invalid run number ${run}`);
}

/** The home root: root's, 0711 (a run's uid passes through to its own home; nobody lists the homes). */
function prepareHomeRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const info = lstatSync(root);
  if (!info.isDirectory() || info.uid !== process.getuid?.()) throw new BackendError(`local workspaces: ${root} is not a directory owned by this server's user`, 'the workspace home root is unusable');
  chmodSync(root, 0o711);
}

/**
 * Gives a home and everything in it that a workspace uid owns to `uid`. Runs while none of the
 * workspace's processes does (the last run is gone), and never follows a link: lchown, and only
 * real directories are entered, so a link the user left cannot lead root elsewhere. An entry a
 * workspace uid does not own (a hard link to a host file, were hard links to others' files
 * allowed: fs.protected_hardlinks=0) is left as it is, never handed to the run.
 */
async function chownTree(dir: string, uid: number, isWorkspaceUid: (owner: number) => boolean): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const info = await lstat(full);
    if (!isWorkspaceUid(info.uid)) continue;
    if (info.isDirectory()) await chownTree(full, uid, isWorkspaceUid);
    await lchown(full, uid, uid);
  }
}

/** Whether the sandbox's PID 1 has a child (polled until it has, or the sandbox is gone). */
async function mainProcessStarted(initPid: number, exited: Promise<unknown>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  while (!gone) {
    if (processTree(initPid).length > 1) return true;
    await sleep(POLL_MS / 5);
  }
  return false;
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
