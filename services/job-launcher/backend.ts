/**
 * Where job attempts run. The job launcher talks to every backend through this interface:
 * the local backend (child processes, the embedded default) and the Kubernetes backend.
 */

export type AttemptState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export const TERMINAL_STATES: readonly AttemptState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export interface EnvEntry {
  name: string;
  value: string;
}

/** One secret value to inject. The backend must not keep it beyond the attempt's life. */
export interface SecretEnvEntry {
  /** Environment variable name. */
  name: string;
  /** The decrypted value. */
  value: Uint8Array;
  /** For labels/annotations and logs: which secret and version (never the value). */
  secretName: string;
  version: number;
}

/** One secret value to mount as a read-only file (mode 0400, the job's user, memory-backed). */
export interface SecretFileEntry {
  /** Absolute path inside the job, checked against the backend's roots (secret-file-paths.ts). */
  path: string;
  /** The decrypted value, byte for byte (any bytes: a file can hold what a variable cannot). */
  value: Uint8Array;
  /** For labels/annotations and logs: which secret and version (never the value). */
  secretName: string;
  version: number;
}

/** Whether and where a backend mounts secrets as files. */
export interface SecretFileSupport {
  /** The directories (each ending with "/") a file path must lie under. */
  roots: readonly string[];
  /** Set when this backend refuses file secrets altogether, saying why (FAILED_PRECONDITION). */
  refusal?: string;
}

export interface AttemptSpec {
  org: string;
  jobId: string;
  attempt: number;
  /** The job's display name. */
  jobName: string;
  image: string;
  /** Run with /bin/sh -c. */
  command: string;
  /** Plain variables. Never overlap secretEnv (the launcher resolved overrides). */
  env: EnvEntry[];
  secretEnv: SecretEnvEntry[];
  /** Secrets mounted as files (none when absent). */
  secretFiles?: SecretFileEntry[];
}

/** Identifies an attempt inside its backend (e.g. a Kubernetes Job name); stored by the launcher. */
export interface AttemptHandle {
  org: string;
  jobId: string;
  attempt: number;
  /** Backend-specific reference returned by launch(). */
  ref: string;
}

export interface AttemptStatus {
  state: AttemptState;
  exitCode?: number;
  /** Why it ended, in words; never a value or a raw backend error body. */
  message?: string;
  startTime?: Date;
  endTime?: Date;
}

export interface LogOptions {
  follow: boolean;
  /** Only the last N lines (0 or undefined: all). */
  tailLines?: number;
  /** Stop when this says so (the client went away). */
  cancelled?: () => boolean;
}

export class BackendError extends Error {
  constructor(
    message: string,
    /** Safe to show a client: says what failed without a backend's raw response. */
    readonly publicMessage: string,
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

/**
 * A BackendError that retrying will not cure: the attempt is in a state where the backend
 * refuses the call (its log can no longer be masked). Answered as FAILED_PRECONDITION with
 * `reason`, where other BackendErrors are UNAVAILABLE.
 */
export class BackendPreconditionError extends BackendError {
  constructor(
    message: string,
    publicMessage: string,
    /** AIP-193 ErrorInfo reason, UPPER_SNAKE_CASE. */
    readonly reason: string,
  ) {
    super(message, publicMessage);
    this.name = 'BackendPreconditionError';
  }
}

/** What a backend made ahead of a launch (JobBackend.reserve). */
export interface ReservedAttempt {
  /** Removes what was made, unless launch() took it. Never throws. */
  cancel(): Promise<void>;
}

export interface JobBackend {
  readonly name: 'local' | 'kubernetes';
  /** Said to whoever creates or restarts a job on this backend (e.g. that jobs run unsandboxed). */
  readonly warnings?: string[];
  /** Where it mounts secrets as files; a backend without it refuses them. */
  readonly secretFiles?: SecretFileSupport;
  /**
   * Optional: starts making what an attempt needs that does not depend on its secrets (the
   * local backend's directories and log file), so that it overlaps reading and decrypting
   * them. launch() of that attempt then uses it, and reports any error it met; when the
   * launch will not happen, cancel() removes it. Throws only when the attempt cannot be
   * reserved at all; launch() then does the whole work (and reports the error) itself.
   */
  reserve?(jobId: string, attempt: number): ReservedAttempt;
  /**
   * Starts an attempt. Resolves once the attempt exists in the backend (the local process
   * has been spawned; the Kubernetes Secret and Job were created). On failure nothing the
   * attempt created is left behind, and a BackendError is thrown. `status`, when the backend
   * knows it without asking (the local process runs), is the attempt's state at that moment;
   * it is not also announced through onStateChange.
   */
  launch(spec: AttemptSpec): Promise<{ ref: string; status?: AttemptStatus }>;
  /** The attempt's current state. */
  status(handle: AttemptHandle): Promise<AttemptStatus>;
  /** Stops a running attempt (the whole process tree / the Kubernetes Job). Idempotent. */
  terminate(handle: AttemptHandle): Promise<void>;
  /** The attempt's output; with follow, until it ends or `cancelled()`. */
  logs(handle: AttemptHandle, options: LogOptions): AsyncIterable<Buffer>;
  /** Called by the backend whenever an attempt changes state by itself after its launch (local exit). */
  onStateChange?(listener: (handle: AttemptHandle, status: AttemptStatus) => void): void;
  /** Releases resources (stops watching; the local backend ends its children). */
  close(): Promise<void>;
}
