// The rules of a workspace and of a command run in one, for the job launcher's server and the web
// console's New workspace form (which imports this file, so that the browser checks by the
// server's own rules). Like ../rules.ts it imports nothing that cannot run in a browser.
import { checkName, type ViolationSink } from '../../secret-store/rules.js';
import { checkRunInput, type JobInput } from '../rules.js';

export const WORKSPACE_ID_PATTERN = /^w_[0-9a-f]{16}$/;

/** What a workspace is made from: a job's fields, the command optional (it then idles). */
export type WorkspaceInput = JobInput;

/** Every rule for a new workspace, each violation naming its field (`workspace.…`). */
export function checkWorkspaceInput(v: ViolationSink, input: WorkspaceInput, fileRoots: readonly string[]): void {
  checkRunInput(v, input, fileRoots, 'workspace', false);
}

/** A workspace named in a request (`name`). */
export function checkWorkspaceName(v: ViolationSink, name: string, field = 'name'): void {
  checkName(v, name, field);
}

const MAX_EXEC_ARGS = 256;
const MAX_EXEC_BYTES = 32 * 1024;
/** A terminal bigger than this is a mistake (or an attempt to make the server allocate). */
export const MAX_TERMINAL_SIDE = 10_000;

export interface ExecInput {
  command: string[];
  tty: boolean;
  size?: { rows: number; cols: number };
}

/** A command to run in a workspace: argument count and size, no NUL byte, a sane terminal size. */
export function checkExecInput(v: ViolationSink, exec: ExecInput, field: string): void {
  v.check(exec.command.length <= MAX_EXEC_ARGS, `${field}.command`, `has ${exec.command.length} arguments; at most ${MAX_EXEC_ARGS} are allowed`);
  const bytes = exec.command.reduce((sum, arg) => sum + new TextEncoder().encode(arg).length, 0);
  v.check(bytes <= MAX_EXEC_BYTES, `${field}.command`, `is ${bytes} bytes long; at most ${MAX_EXEC_BYTES} bytes are allowed`);
  exec.command.forEach((arg, i) => v.check(!arg.includes('\0'), `${field}.command[${i}]`, 'must not contain a NUL byte (a process cannot be given one)'));
  if (exec.command.length > 0) v.check(exec.command[0] !== '', `${field}.command[0]`, 'is empty: name the program to run');
  if (exec.size) checkTerminalSize(v, exec.size, `${field}.size`);
}

export function checkTerminalSize(v: ViolationSink, size: { rows: number; cols: number }, field: string): void {
  v.check(size.rows >= 1 && size.rows <= MAX_TERMINAL_SIDE, `${field}.rows`, `must be between 1 and ${MAX_TERMINAL_SIDE}`);
  v.check(size.cols >= 1 && size.cols <= MAX_TERMINAL_SIDE, `${field}.cols`, `must be between 1 and ${MAX_TERMINAL_SIDE}`);
}
