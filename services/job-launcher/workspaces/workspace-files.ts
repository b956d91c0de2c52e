import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { chmod, chown, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { SANDBOX_HOME } from '../sandbox/bubblewrap.js';

/**
 * A workspace run's secret files (docs/isolation.md, "Workspaces"). Unlike a job's
 * (--ro-bind-data, which pins one inode for the sandbox's life), they must be rewritable while
 * the run goes on, so they follow what Kubernetes does for secret volumes:
 * - the values live on the host in a memory-backed directory (a tmpfs, /dev/shm by default,
 *   checked at open), one directory per run, that only root and the run's uid can enter:
 *   files 0400 and directories 0500 owned by the run's uid, under a root-owned 0711 root;
 * - the run's `secrets` directory is bound read-only at /run/secrets, its `home` directory at
 *   HOME_FILES_DIR; a path under /run/secrets is the file itself, a path under HOME is a
 *   symlink (made inside the sandbox, as the run's user) to its file in HOME_FILES_DIR;
 * - a write goes to a temporary file (named `..tmp-…`: no secret file path may start a segment
 *   with "..") that is renamed over the old one: a reader opens the old bytes or the new, never
 *   a mix or nothing;
 * - the run's directory is removed when the run ends, and the whole root at the server's start.
 */

/** Where a run's files for HOME paths are bound, read-only; HOME paths are links into it. */
export const HOME_FILES_DIR = '/run/vessl/home-secrets';
export const SECRETS_DIR = '/run/secrets';
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/**
 * Makes (or empties: values of an earlier server's runs) the root of the runs' file
 * directories. Returns why file secrets are refused there, or undefined when it is usable.
 */
export function openFilesRoot(root: string): string | undefined {
  const parent = path.dirname(root);
  let type: number;
  try {
    type = statfsSync(parent).type;
  } catch (err) {
    return `secrets as files in workspaces need a memory-backed directory, and ${parent} cannot be read (${(err as NodeJS.ErrnoException).code}); mount a tmpfs there or set the workspace files root`;
  }
  if (type !== TMPFS_MAGIC && type !== RAMFS_MAGIC) {
    return `secrets as files in workspaces need a memory-backed directory (tmpfs), and ${parent} is not one: a value written there would reach a disk; mount a tmpfs at ${parent} or pass the secret as a variable`;
  }
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const info = lstatSync(root);
  if (!info.isDirectory() || info.uid !== process.getuid?.()) return `the workspace files root ${root} is not a directory owned by this server's user; remove it`;
  for (const entry of readdirSync(root)) rmSync(path.join(root, entry), { recursive: true, force: true });
  return undefined;
}

/** One run's files on the host. */
export class RunFiles {
  private constructor(
    readonly dir: string,
    private readonly uid: number | undefined,
  ) {}

  /** Makes the run's directories (empty, owned by its uid). */
  static async create(root: string, name: string, uid: number | undefined): Promise<RunFiles> {
    const files = new RunFiles(path.join(root, name), uid);
    await mkdir(files.dir, { mode: 0o711 });
    try {
      for (const dir of [files.secretsDir, files.homeDir]) await files.makeDir(dir);
    } catch (err) {
      await files.destroy();
      throw err;
    }
    return files;
  }

  private get secretsDir(): string {
    return path.join(this.dir, 'secrets');
  }

  private get homeDir(): string {
    return path.join(this.dir, 'home');
  }

  /** The read-only binds of the run's sandbox. */
  get binds(): { source: string; dest: string }[] {
    return [
      { source: this.secretsDir, dest: SECRETS_DIR },
      { source: this.homeDir, dest: HOME_FILES_DIR },
    ];
  }

  /**
   * Writes `value` as the file at sandbox `filePath` (checked against the roots by the caller):
   * to a temporary file in the same directory, then renamed over the old one.
   */
  async write(filePath: string, value: Uint8Array): Promise<void> {
    const target = this.hostPath(filePath);
    await this.makeParents(target);
    const temporary = path.join(path.dirname(target), `..tmp-${randomBytes(8).toString('hex')}`);
    // Mode 0 until complete: nobody but root opens it half-written.
    const handle = await open(temporary, 'wx', 0o000);
    try {
      await handle.writeFile(value);
      if (this.uid !== undefined) await handle.chown(this.uid, this.uid);
      await handle.chmod(0o400);
    } catch (err) {
      await handle.close();
      await rm(temporary, { force: true });
      throw err;
    }
    await handle.close();
    await rename(temporary, target);
  }

  /** Removes the file at sandbox `filePath` (gone already: nothing to do). */
  async remove(filePath: string): Promise<void> {
    await rm(this.hostPath(filePath), { force: true });
  }

  /** Removes every file of the run. */
  async destroy(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Where the file at sandbox `filePath` is on the host: under secrets/ or home/. */
  hostPath(filePath: string): string {
    const { base, relative } = splitFilePath(filePath);
    return path.join(base === 'home' ? this.homeDir : this.secretsDir, relative);
  }

  private async makeParents(target: string): Promise<void> {
    const missing: string[] = [];
    for (let dir = path.dirname(target); dir !== this.secretsDir && dir !== this.homeDir; dir = path.dirname(dir)) missing.unshift(dir);
    for (const dir of missing) await this.makeDir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }

  /** A directory only the run's uid can read (and nobody can write but root). */
  private async makeDir(dir: string): Promise<void> {
    await mkdir(dir, { mode: 0o500 });
    if (this.uid !== undefined) await chown(dir, this.uid, this.uid);
    await chmod(dir, 0o500);
  }
}

/** Which of the run's directories a secret file path belongs to, and its path there. */
export function splitFilePath(filePath: string): { base: 'secrets' | 'home'; relative: string } {
  if (filePath.startsWith(`${SECRETS_DIR}/`)) return { base: 'secrets', relative: filePath.slice(SECRETS_DIR.length + 1) };
  if (filePath.startsWith(`${SANDBOX_HOME}/`)) return { base: 'home', relative: filePath.slice(SANDBOX_HOME.length + 1) };
  throw new Error(`${filePath} is under no secret file root`);
}

/** Where a HOME path's link points, inside the sandbox. */
export function homeLinkTarget(filePath: string): string {
  return `${HOME_FILES_DIR}/${splitFilePath(filePath).relative}`;
}

/**
 * A shell script (run inside the sandbox, as the run's user) that makes each HOME path a link
 * to its file. Paths are checked secret file paths (letters, digits and . _ @ + - between
 * slashes): quoting them in single quotes is exact.
 */
export function homeLinkScript(filePaths: readonly string[]): string {
  return filePaths
    .filter((p) => splitFilePath(p).base === 'home')
    .map((p) => `mkdir -p -- '${path.posix.dirname(p)}' && ln -sfn -- '${homeLinkTarget(p)}' '${p}'`)
    .join('\n');
}

/** A script that removes a HOME path's link, if it is still ours. */
export function homeUnlinkScript(filePath: string): string {
  return `[ "$(readlink -- '${filePath}')" != '${homeLinkTarget(filePath)}' ] || rm -f -- '${filePath}'`;
}
