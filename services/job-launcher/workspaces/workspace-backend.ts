import type { EnvEntry, SecretEnvEntry, SecretFileEntry, SecretFileSupport } from '../backend.js';

/**
 * Where workspaces run: long-lived interactive environments that get secrets exactly as job
 * attempts do (variables and read-only files), in the same sandbox. The workspace manager
 * (./domain.ts) talks to each backend through this interface: the local backend (a
 * long-running bubblewrap sandbox, entered with nsenter for exec) and the Kubernetes backend
 * (a pod, entered through pods/exec).
 *
 * A workspace runs in "runs": each start is a new run (numbered from 1) with the secrets'
 * values as they are at that start. While a run is up, a secret mounted as a file is
 * rewritten in place (writeFile) when it is rotated, and removed (removeFile) when it is
 * deleted; a variable keeps its value until the next run.
 */

export type WorkspaceState = 'STARTING' | 'RUNNING' | 'STOPPED' | 'FAILED';

export interface WorkspaceSpec {
  org: string;
  /** w_ followed by 16 hex digits. */
  workspaceId: string;
  /** 1 for the first run, +1 per start. */
  run: number;
  /** The workspace's name (unique in its org). */
  name: string;
  image: string;
  /** The main process, run with /bin/sh -c; empty: the workspace idles until stopped. */
  command: string;
  /** Plain variables; never overlap secretEnv. */
  env: EnvEntry[];
  secretEnv: SecretEnvEntry[];
  secretFiles: SecretFileEntry[];
}

/** Identifies a run inside its backend; `ref` is what start() returned (stored by the manager). */
export interface WorkspaceHandle {
  org: string;
  workspaceId: string;
  run: number;
  ref: string;
}

export interface WorkspaceStatus {
  state: WorkspaceState;
  /** Set once the main process ended with a status. */
  exitCode?: number;
  /** Why it stopped or failed, in words; never a value or a raw backend error body. */
  message?: string;
  startTime?: Date;
  endTime?: Date;
}

export interface TerminalSize {
  rows: number;
  cols: number;
}

export interface ExecRequest {
  /** The program and its arguments; empty: the backend's shell (bash when present, else sh). */
  command: string[];
  /** Give the command a terminal (stderr is then joined to stdout). */
  tty: boolean;
  /** The terminal's size at start (tty only). */
  size?: TerminalSize;
}

export interface ExecExitStatus {
  /** The exit status; 128 + N when signal N ended it. */
  code: number;
  /** E.g. "SIGINT", when a signal ended it. */
  signal?: string;
}

/** One command running inside a workspace (exec, shell). */
export interface ExecProcess {
  /**
   * Bytes for its stdin (keystrokes with a tty). Resolves once more may be written (the pipe
   * took them, or the command ended): a caller that awaits it never piles up input the command
   * does not read. Ignored once stdin is closed or the command ended.
   */
  write(data: Uint8Array): Promise<void>;
  /** End of input. */
  closeStdin(): void;
  /** The client's terminal changed size (tty only; ignored otherwise). */
  resize(size: TerminalSize): void;
  /** Ends the command and everything it started (the client went away). Idempotent. */
  kill(): void;
  /**
   * Stops taking the command's output until resumeOutput(): its client reads slower than it
   * prints, and the command must then wait on its writes rather than the server hold its output
   * without bound. Once the command has ended, what is left is taken at once.
   */
  pauseOutput(): void;
  resumeOutput(): void;
  /** Output, unmasked (the manager masks it); each listener is set once, before any output is lost. */
  onStdout(listener: (chunk: Buffer) => void): void;
  onStderr(listener: (chunk: Buffer) => void): void;
  /** Settles once the command has ended and all its output has been delivered. */
  readonly exit: Promise<ExecExitStatus>;
}

export interface WorkspaceBackend {
  readonly name: 'local' | 'kubernetes';
  /** Where it mounts secrets as files; a backend without it refuses them. */
  readonly secretFiles?: SecretFileSupport;
  /** Said to whoever creates or starts a workspace here (e.g. that it runs unsandboxed). */
  readonly warnings?: string[];
  /**
   * Starts a run. Resolves once it exists in the backend (the sandbox's main process runs; the
   * Kubernetes Secret and Pod were created). On failure nothing the run created is left
   * behind, and a BackendError is thrown.
   */
  start(spec: WorkspaceSpec): Promise<{ ref: string; status?: WorkspaceStatus }>;
  status(handle: WorkspaceHandle): Promise<WorkspaceStatus>;
  /** Ends the run's processes (the Pod). What the workspace keeps between runs stays. Idempotent. */
  stop(handle: WorkspaceHandle): Promise<void>;
  /** Removes what the workspace keeps between runs (its home). After stop(). Idempotent. */
  remove(org: string, workspaceId: string): Promise<void>;
  /**
   * Runs a command in the running run, as its user, with its environment (the spec's env and
   * secretEnv as the run started). BackendPreconditionError when the run is not running.
   */
  exec(handle: WorkspaceHandle, request: ExecRequest): Promise<ExecProcess>;
  /**
   * Writes a secret file of the running run: atomically (a reader sees the old bytes or the
   * new, never a mix or nothing), read-only, mode 0400, the run's user, memory-backed.
   * Creates it when the run has no file at that path yet.
   */
  writeFile(handle: WorkspaceHandle, file: SecretFileEntry): Promise<void>;
  /** Removes a secret file from the running run (its secret was deleted). Idempotent. */
  removeFile(handle: WorkspaceHandle, path: string): Promise<void>;
  /** Called whenever a run changes state by itself (its main process ended). */
  onStateChange?(listener: (handle: WorkspaceHandle, status: WorkspaceStatus) => void): void;
  /** Ends every run (local: they die with the server) and releases resources. */
  close(): Promise<void>;
}
