import { lstatSync, readlinkSync } from 'node:fs';

/**
 * The bubblewrap command line that runs one job attempt (DESIGN §5, docs/isolation.md).
 *
 * Everything the sandbox is made of is decided here, as a pure function of the attempt, so
 * that tests can read the exact arguments:
 * - new user, mount, PID, IPC, UTS and cgroup namespaces (`--unshare-all --unshare-user`),
 *   the network namespace too when the server isolates jobs from the network;
 * - no nested user namespaces (`--disable-userns`): a job cannot gain capabilities in one;
 * - a root of its own on a tmpfs: `/usr` and `/etc` read-only, the usual top-level links, a
 *   fresh `/proc` for its PID namespace, a minimal `/dev`, a private `/tmp`, and its work dir
 *   at HOME. Nothing else of the host is there: not the data dir, not the repository, not
 *   other attempts' work dirs, not the server's home;
 * - `--die-with-parent` (SIGKILL when the spawner goes, see job-spawner.ts) and
 *   `--new-session` (no TIOCSTI into a terminal);
 * - an empty environment plus exactly the job's (`--clearenv`, then `--setenv`);
 * - each secret file (`--secret-file PATH=NAME`) as `--perms 0400 --ro-bind-data FD PATH`:
 *   bwrap copies the bytes it reads from FD (a pipe) into a file on its own tmpfs, made by the
 *   job's uid with mode 0400, and binds it read-only at PATH (missing parent directories are
 *   made, on the sandbox's tmpfs root for /run/secrets, as empty directories in the work dir
 *   for HOME). The value is never in a file on the host's disk, nor on a command line.
 *
 * The options travel to bwrap through a pipe (`--args 3`), never on its command line: they
 * hold the job's environment, secret values included, and a command line can be read by any
 * user of the host in /proc/<pid>/cmdline. Only the command itself (stored with the job, and
 * no secret) follows on the command line, where bwrap requires it.
 */

/** Where the attempt's work dir appears inside the sandbox; also its HOME and cwd. */
export const SANDBOX_HOME = '/home/job';
export const SANDBOX_HOSTNAME = 'vessl-job';
/** The fd bwrap reads its arguments from (`--args`), and the one it writes its status to. */
export const ARGS_FD = 3;
export const STATUS_FD = 4;
/** Secret file i is read from fd FIRST_FILE_FD + i (`--ro-bind-data`). */
export const FIRST_FILE_FD = 5;
/** Read-only for its owner (the job's user) and nobody else. */
export const SECRET_FILE_MODE = '0400';
/** Where secret files may go in a sandbox: its own tmpfs /run/secrets, and HOME. */
export const SANDBOX_FILE_ROOTS = ['/run/secrets/', `${SANDBOX_HOME}/`] as const;

/**
 * Runs the job's command with stderr joined to stdout: one pipe, so the log keeps the order in
 * which the job wrote to either (as a terminal shows it). The second shell is the job's own
 * `sh -c COMMAND`, exec'd in place, so `$0`, `$@` and the exit status are as without it.
 */
export function joinedOutputCommand(command: string): string[] {
  return ['/bin/sh', '-c', 'exec 2>&1; exec /bin/sh -c "$1"', 'sh', command];
}

export type SandboxNetwork = 'shared' | 'isolated';

export interface SandboxLayout {
  /** The host's top-level entries that link into /usr (merged /usr) or are directories. */
  systemLinks: { path: string; target?: string }[];
}

const SYSTEM_TOP_LEVEL = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** Every host path a sandbox sees (read-only): nothing of the server's may live under one. */
export const HOST_PATHS_IN_SANDBOX = ['/usr', '/etc', ...SYSTEM_TOP_LEVEL];

/** Reads how this host lays out /bin, /lib... (links into /usr on a merged-/usr system). */
export function hostLayout(): SandboxLayout {
  const systemLinks: SandboxLayout['systemLinks'] = [];
  for (const entry of SYSTEM_TOP_LEVEL) {
    let isLink: boolean;
    try {
      isLink = lstatSync(entry).isSymbolicLink();
    } catch {
      continue; // not on this host
    }
    systemLinks.push(isLink ? { path: entry, target: readlinkSync(entry) } : { path: entry });
  }
  return { systemLinks };
}

export interface SandboxedAttempt {
  command: string;
  env: Record<string, string>;
  /** The attempt's work dir on the host (bound read-write at SANDBOX_HOME). */
  workDir: string;
  network: SandboxNetwork;
  layout: SandboxLayout;
  /** Secret files, by path: file i's bytes come from fd FIRST_FILE_FD + i. */
  filePaths?: readonly string[];
  /** Host directories bound read-only (after HOME), e.g. a workspace's memory-backed secret files. */
  readOnlyBinds?: readonly { source: string; dest: string }[];
}

export interface BubblewrapArguments {
  /** For `--args`: everything but the command. */
  options: string[];
  /** After `--` on the command line. */
  command: string[];
}

/** bwrap's arguments for one attempt. `statusFd`: where bwrap reports the sandbox's PID namespace and the exit status. */
export function bubblewrapArguments(attempt: SandboxedAttempt, statusFd?: number): BubblewrapArguments {
  const args = ['--unshare-all', '--unshare-user', '--disable-userns'];
  if (attempt.network === 'shared') args.push('--share-net');
  args.push('--die-with-parent', '--new-session', '--hostname', SANDBOX_HOSTNAME);
  args.push('--ro-bind', '/usr', '/usr');
  for (const { path, target } of attempt.layout.systemLinks) {
    if (target) args.push('--symlink', target, path);
    else args.push('--ro-bind', path, path);
  }
  args.push('--ro-bind', '/etc', '/etc', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--dir', '/run');
  args.push('--bind', attempt.workDir, SANDBOX_HOME, '--chdir', SANDBOX_HOME);
  // After HOME's bind, so that a file under HOME is mounted over the work dir, not under it.
  (attempt.filePaths ?? []).forEach((file, i) => args.push('--perms', SECRET_FILE_MODE, '--ro-bind-data', String(FIRST_FILE_FD + i), file));
  for (const { source, dest } of attempt.readOnlyBinds ?? []) args.push('--ro-bind', source, dest);
  args.push('--clearenv');
  for (const [name, value] of Object.entries(attempt.env)) args.push('--setenv', name, value);
  if (statusFd !== undefined) args.push('--json-status-fd', String(statusFd));
  return { options: args, command: joinedOutputCommand(attempt.command) };
}

/** The `--args` payload: every argument NUL-terminated. An argument holding a NUL cannot be passed. */
export function encodeArguments(args: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const arg of args) {
    if (arg.includes('\0')) throw new Error('a sandbox argument holds a NUL byte');
    parts.push(Buffer.from(arg, 'utf8'), Buffer.alloc(1));
  }
  return Buffer.concat(parts);
}

/** One line of bwrap's `--json-status-fd` output. */
export interface SandboxStatus {
  /** The host PID of the sandbox's PID 1 (bwrap's reaper), once it runs. */
  childPid?: number;
  /** The inode of the sandbox's PID namespace. */
  pidNamespace?: number;
  /** The job's exit status, as bwrap reports it (128 + N for a signal). */
  exitCode?: number;
}

export function parseSandboxStatus(line: string): SandboxStatus | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const int = (value: unknown) => (typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined);
  return { childPid: int(parsed['child-pid']), pidNamespace: int(parsed['pid-namespace']), exitCode: int(parsed['exit-code']) };
}
