import { createHash, randomBytes } from 'node:crypto';
import { accessSync, chmodSync, chownSync, constants, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { SpawnCommand } from '../backends/job-spawner.js';
import { filePathProblem } from '../../runtime/secret-file-paths.js';
import type { SecretFileSupport } from '../backend.js';
import {
  ARGS_FD,
  bubblewrapArguments,
  encodeArguments,
  FIRST_FILE_FD,
  HOST_PATHS_IN_SANDBOX,
  hostLayout,
  joinedOutputCommand,
  SANDBOX_FILE_ROOTS,
  SANDBOX_HOME,
  STATUS_FD,
  type SandboxedAttempt,
  type SandboxLayout,
  type SandboxNetwork,
} from './bubblewrap.js';

/**
 * Where and as whom a local job attempt runs (docs/isolation.md). With bubblewrap (the
 * default and the only safe choice) each attempt gets namespaces of its own, a root made of
 * read-only system directories and its work dir, and, when the server runs as root, a host
 * uid/gid of its own from a range no one else uses. Without it (the loudly named opt-out for
 * a single-user laptop) a job runs as the server's user and sees what the server sees.
 */

export type SandboxKind = 'bubblewrap' | 'none';

export interface SandboxSettings {
  kind: SandboxKind;
  network: SandboxNetwork;
  /** Where attempts' work dirs are made: outside the data dir, so a job's HOME never leads into it. */
  workRoot: string;
  /** Host uids (and gids) for attempts when the server runs as root: [first, first + count). */
  uids: UidRange;
}

export interface UidRange {
  first: number;
  count: number;
}

/** Far from login users (1000+), system users (< 1000), nobody (65534) and the usual subordinate ranges (100000+, 65536 each). */
export const DEFAULT_UIDS: UidRange = { first: 2_000_000_000, count: 65_536 };

/** Why an unsandboxed local backend refuses secret files (FAILED_PRECONDITION). */
export const UNSANDBOXED_FILES_REFUSAL =
  'secrets as files need the job sandbox, and jobs run without one (--unsafe-no-job-sandbox): the file could only be written to the host\'s disk, where it outlives the job and the host\'s other processes can reach it; pass the secret as a variable (--secret) or run the server with its sandbox';

/** A secret file for an attempt: where, and its bytes (passed through a pipe, never a host file). */
export interface SandboxFile {
  path: string;
  value: Uint8Array;
}

export const UNSANDBOXED_WARNING =
  'jobs run WITHOUT a sandbox (--unsafe-no-job-sandbox): every job sees the host\'s files and processes, and, unless the server runs as root, runs as the server\'s user and can read the data dir (master keyring, issuer key, tokens) and so every value; use this only on a single-user machine';

/** The local backend cannot run jobs safely here; the message names the fix. */
export class SandboxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUnavailableError';
  }
}

/** The default work root: per data dir, in the host's temporary directory. */
export function defaultWorkRoot(dataDir: string): string {
  const tag = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `vessl-jobs-${process.getuid?.() ?? 0}-${tag}`);
}

/** An attempt's place in the sandbox: its work dir and the uid it runs as, held until release(). */
export interface AttemptLease {
  /** On the host. */
  workDir: string;
  /** HOME and cwd as the job sees them. */
  home: string;
  uid?: number;
  /** Removes the work dir and frees the uid. Never throws. */
  release(): Promise<void>;
}

const FIX =
  'install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces (sysctl user.max_user_namespaces=15000), or, on a single-user machine only, start with --unsafe-no-job-sandbox';

export class JobSandbox {
  private readonly inUse = new Set<number>();
  private nextUid: number;
  private readonly bwrap?: string;
  private readonly layout: SandboxLayout;
  /** Whether attempts get uids of their own (the server runs as root). */
  private readonly ownUids: boolean;

  private constructor(
    readonly settings: SandboxSettings,
    bwrap: string | undefined,
  ) {
    this.bwrap = bwrap;
    this.layout = hostLayout();
    // As root, every job drops to a uid of its own, also without a sandbox: never a root shell.
    this.ownUids = process.getuid?.() === 0;
    this.nextUid = settings.uids.first;
  }

  /**
   * Checks that jobs can be sandboxed here (by running one empty sandbox) and prepares the
   * work root, removing what attempts of an earlier run left there (none outlives its server:
   * bwrap's --die-with-parent). Throws SandboxUnavailableError when jobs cannot be sandboxed.
   */
  static open(settings: SandboxSettings, serverDirs: string[] = []): JobSandbox {
    for (const dir of [settings.workRoot, ...serverDirs]) checkNotBound(dir);
    const bwrap = settings.kind === 'bubblewrap' ? findOnPath('bwrap') : undefined;
    if (settings.kind === 'bubblewrap' && !bwrap) throw new SandboxUnavailableError(`the local job backend needs bubblewrap (bwrap is not on PATH): ${FIX}`);
    const sandbox = new JobSandbox(settings, bwrap);
    if (sandbox.ownUids) checkUidRange(settings.uids);
    sandbox.prepareWorkRoot();
    if (settings.kind === 'bubblewrap') sandbox.probe();
    return sandbox;
  }

  get sandboxed(): boolean {
    return this.settings.kind === 'bubblewrap';
  }

  /** Removes the work root once no attempt uses it (close() of the backend). */
  async close(): Promise<void> {
    await rmdir(this.settings.workRoot).catch(() => undefined);
  }

  /** Where a sandboxed job gets secret files; without a sandbox, none (and why). */
  get secretFiles(): SecretFileSupport {
    return { roots: SANDBOX_FILE_ROOTS, refusal: this.sandboxed ? undefined : UNSANDBOXED_FILES_REFUSAL };
  }

  /** A warning for every job's creator, when jobs are not sandboxed. */
  get warnings(): string[] {
    return this.settings.kind === 'none' ? [UNSANDBOXED_WARNING] : [];
  }

  /** Makes the attempt's work dir (owned by its uid) and takes a uid for it. */
  async lease(): Promise<AttemptLease> {
    const uid = this.ownUids ? this.takeUid() : undefined;
    const workDir = path.join(this.settings.workRoot, randomBytes(12).toString('hex'));
    const release = async () => {
      await removeTree(workDir);
      if (uid !== undefined) this.inUse.delete(uid);
    };
    try {
      await mkdir(workDir, { mode: 0o700 });
      if (uid !== undefined) await chown(workDir, uid, uid);
    } catch (err) {
      await release();
      throw err;
    }
    return { workDir, home: this.settings.kind === 'bubblewrap' ? SANDBOX_HOME : workDir, uid, release };
  }

  /**
   * A uid of its own for something that keeps its files elsewhere (a workspace run, whose home
   * outlives it), held until the returned release(). Undefined uid when the server is not root.
   */
  leaseUid(): { uid?: number; release(): void } {
    const uid = this.ownUids ? this.takeUid() : undefined;
    let held = uid !== undefined;
    // Idempotent: a second release must never free the uid once another holder has it.
    return { uid, release: () => void (held && this.inUse.delete(uid!), (held = false)) };
  }

  /**
   * How the spawner starts the attempt's command, with its secret files mounted.
   * `readOnlyBinds`: host directories the sandbox also sees, read-only (see SandboxedAttempt).
   */
  command(lease: AttemptLease, command: string, env: Record<string, string>, files: readonly SandboxFile[] = [], readOnlyBinds: SandboxedAttempt['readOnlyBinds'] = []): SpawnCommand {
    // The last check before the mount is made: a path outside the roots would land on the host's files.
    const problem = this.secretFiles.refusal ?? files.map((f) => filePathProblem(f.path, SANDBOX_FILE_ROOTS)).find((p) => p !== undefined);
    if (files.length > 0 && problem !== undefined) throw new SandboxUnavailableError(problem);
    if (this.settings.kind === 'none') {
      const [file, ...args] = joinedOutputCommand(command);
      return { file, args, env, cwd: lease.workDir, uid: lease.uid, gid: lease.uid };
    }
    const filePaths = files.map((f) => f.path);
    const args = bubblewrapArguments({ command, env, workDir: lease.workDir, network: this.settings.network, layout: this.layout, filePaths, readOnlyBinds }, STATUS_FD);
    return {
      file: this.bwrap!,
      args: ['--args', String(ARGS_FD), '--', ...args.command],
      argsData: encodeArguments(args.options),
      statusFd: STATUS_FD,
      inputs: files.map((f, i) => ({ fd: FIRST_FILE_FD + i, data: f.value })),
      // bwrap gets no environment of its own: a job's LD_PRELOAD must not reach a process outside the sandbox.
      env: {},
      cwd: '/',
      uid: lease.uid,
      gid: lease.uid,
    };
  }

  private takeUid(): number {
    const { first, count } = this.settings.uids;
    for (let tried = 0; tried < count; tried++) {
      const uid = this.nextUid;
      this.nextUid = uid + 1 < first + count ? uid + 1 : first;
      if (!this.inUse.has(uid)) {
        this.inUse.add(uid);
        return uid;
      }
    }
    throw new SandboxUnavailableError(`all ${count} job uids are in use: too many jobs run at once`);
  }

  private prepareWorkRoot(): void {
    const root = this.settings.workRoot;
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const info = lstatSync(root);
    // A directory someone else made (or a link) in a shared temporary directory is not ours to use.
    if (!info.isDirectory() || info.uid !== process.getuid?.()) {
      throw new SandboxUnavailableError(`the job work root ${root} is not a directory owned by this server's user; remove it or set VESSL_JOB_WORK_ROOT`);
    }
    // Job uids reach their own work dir through it (traverse only: its entries cannot be listed).
    chmodSync(root, this.ownUids ? 0o711 : 0o700);
    if (this.ownUids) checkSearchable(path.dirname(root));
    for (const entry of readdirSync(root)) rmSync(path.join(root, entry), { recursive: true, force: true });
  }

  /** Runs one empty sandbox exactly as a job's, so that a host that cannot is found at start. */
  private probe(): void {
    const uid = this.ownUids ? this.settings.uids.first : undefined;
    const workDir = path.join(this.settings.workRoot, 'probe');
    mkdirSync(workDir, { mode: 0o700 });
    try {
      if (uid !== undefined) chownSync(workDir, uid, uid);
      const args = bubblewrapArguments({ command: 'exit 0', env: {}, workDir, network: this.settings.network, layout: this.layout });
      const result = spawnSync(this.bwrap!, ['--args', '0', '--', ...args.command], { input: encodeArguments(args.options), env: {}, cwd: '/', uid, gid: uid, timeout: 30_000, encoding: 'utf8' });
      if (result.error || result.status !== 0) {
        const why = result.error?.message ?? (result.stderr.trim().split('\n')[0] || `exit status ${result.status}`);
        throw new SandboxUnavailableError(`the local job backend cannot sandbox jobs on this host (bwrap: ${why}): ${FIX}`);
      }
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
}


function checkNotBound(dir: string): void {
  const resolved = path.resolve(dir);
  const bound = HOST_PATHS_IN_SANDBOX.find((top) => resolved === top || resolved.startsWith(`${top}/`));
  if (bound) throw new SandboxUnavailableError(`${resolved} is under ${bound}, which every job sees: keep the data dir and VESSL_JOB_WORK_ROOT elsewhere`);
}

/** bwrap runs as the job's uid: it must be able to pass through every directory above the work root. */
function checkSearchable(dir: string): void {
  for (let at = dir; ; at = path.dirname(at)) {
    if ((statSync(at).mode & 0o001) === 0) {
      throw new SandboxUnavailableError(`the job work root must be reachable by the jobs' uids, but ${at} is not searchable by others (o+x); set VESSL_JOB_WORK_ROOT to a path under searchable directories`);
    }
    if (at === path.dirname(at)) return;
  }
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The uid range must not overlap a range delegated to a user (/etc/subuid, /etc/subgid): that user could act as our jobs. */
function checkUidRange(range: UidRange): void {
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const [owner, start, count] = line.split(':');
      if (!owner || start === undefined || count === undefined) continue;
      const first = Number(start);
      const last = first + Number(count) - 1;
      if (first <= range.first + range.count - 1 && range.first <= last) {
        throw new SandboxUnavailableError(`the job uid range ${range.first}-${range.first + range.count - 1} overlaps ${owner}'s range in ${file}; set VESSL_JOB_UIDS to a free range`);
      }
    }
  }
}

/** Removes a work dir whatever modes the job left on it (a job may chmod its files to 000). */
export async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch {
    await makeWritable(dir);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await makeWritable(path.join(dir, entry.name));
  }
}
