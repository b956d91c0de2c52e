/**
 * Where a job may ask for a secret as a file (`--secret-file PATH=NAME`, DESIGN §5). The rules
 * are the same on every backend; only the roots differ (each backend says its own, see
 * JobBackend.secretFiles). They are checked before anything is read, audited or run.
 */

/** The root every backend offers: a memory-backed directory of the sandbox or pod. */
export const SECRETS_DIR = '/run/secrets/';
export const MAX_FILE_PATH_LENGTH = 512;
/**
 * Every absolute path: for a check that does not know the backend (the web console's form), which
 * leaves "under which roots" to the server and checks the rest.
 */
export const ANY_FILE_ROOT: readonly string[] = ['/'];
const MAX_SEGMENT_LENGTH = 255;
// Portable file-name characters (POSIX) plus @ and +. No space, no quote, no control byte, no
// backslash, no colon: a path is printed in logs and audit events and mapped into a Kubernetes
// volume (whose item paths refuse more than this).
const SEGMENT_PATTERN = /^[A-Za-z0-9._@+-]+$/;

/** The path rule a reference breaks, or undefined. `roots` end with "/". */
export function filePathProblem(path: string, roots: readonly string[]): string | undefined {
  if (path.length > MAX_FILE_PATH_LENGTH) return `is longer than ${MAX_FILE_PATH_LENGTH} characters`;
  if (!path.startsWith('/')) return `"${printable(path)}" is not an absolute path (it must start with /)`;
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '')) return `"${printable(path)}" has an empty segment (// or a trailing /): name a file, not a directory`;
  if (segments.some((s) => s === '.' || s === '..')) return `"${printable(path)}" has a "." or ".." segment: give the path without them`;
  if (segments.some((s) => s.startsWith('..'))) return `"${printable(path)}" has a segment starting with "..", which is reserved`;
  if (segments.some((s) => s.length > MAX_SEGMENT_LENGTH)) return `"${printable(path)}" has a segment longer than ${MAX_SEGMENT_LENGTH} characters`;
  if (!segments.every((s) => SEGMENT_PATTERN.test(s))) return `"${printable(path)}" may only hold letters, digits and . _ @ + - between its slashes`;
  if (!roots.some((root) => path.startsWith(root))) return `"${path}" is not under ${rootList(roots)}`;
  return undefined;
}

/**
 * Each file path well-formed and under a root, no path twice, and none inside another (a file
 * cannot also be a directory): the problems, each with the index of the path it is about.
 * `nameOf(i)` names path i in a message about a clash.
 */
export function secretFilePathProblems(paths: readonly string[], roots: readonly string[], nameOf: (index: number) => string): { index: number; problem: string }[] {
  const problems: { index: number; problem: string }[] = [];
  const accepted: { index: number; path: string }[] = [];
  paths.forEach((path, index) => {
    const problem = filePathProblem(path, roots);
    if (problem !== undefined) {
      problems.push({ index, problem });
      return;
    }
    const clash = accepted.find((other) => other.path === path || path.startsWith(`${other.path}/`) || other.path.startsWith(`${path}/`));
    if (clash === undefined) accepted.push({ index, path });
    else if (clash.path === path) problems.push({ index, problem: `"${path}" is also the path of ${nameOf(clash.index)}: one file per path` });
    else problems.push({ index, problem: `"${path}" and "${clash.path}" (${nameOf(clash.index)}) are one inside the other: a file cannot also be a directory` });
  });
  return problems;
}

export const rootList = (roots: readonly string[]) => roots.join(' or ');

/** A path as a message may quote it: bounded, control bytes escaped. */
function printable(path: string): string {
  return JSON.stringify(path.slice(0, 140)).slice(1, -1);
}
