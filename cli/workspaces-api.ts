// Loaded lazily (see BaseCommand.openWorkspacesApi): it pulls in grpc-js and the generated code.
import { Client, Metadata, status, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  workspace_StateToJSON,
  WorkspaceServiceService,
  type ExecWorkspaceRequest,
  type ExecWorkspaceResponse,
  type Workspace,
  type WorkspaceSecret,
} from '../services/gen/vessl/jobs/v1/workspaces.js';
import { CHANNEL_DEFAULTS, createServiceClient, isServiceError } from '../services/runtime/grpc-client.js';
import { clientOptions } from './client-options.js';
import { enumJson, timeJson } from './json-values.js';
import { injectedSecretJson, runInputJson, type InjectedSecretJson, type JobSpec } from './jobs-api.js';
import type { Connection } from './settings.js';

/**
 * A secret a workspace's run holds (cli/json-values.ts: every field): as a job attempt's, where
 * `version` is, for a file, the one it was last refreshed to, and `stale` means a variable
 * whose secret was rotated or deleted since the run started (stop, start to refresh).
 */
export interface WorkspaceSecretJson extends InjectedSecretJson {
  /** A file: when it was last written. */
  refreshTime: string | null;
  /** A file whose secret was deleted: removed from the running workspace. */
  removed: boolean;
}

/** A workspace as `-o json` prints it (cli/json-values.ts: every field, proto camelCase). */
export interface WorkspaceJson {
  org: string;
  id: string;
  name: string;
  image: string;
  command: string;
  env: Array<{ name: string; value: string }>;
  /** The references asked for: `--secret` (envName, empty: the secret's key) and `--secret-file` (filePath). */
  secrets: Array<{ secretName: string; envName: string; filePath: string }>;
  /** "starting", "running", "stopped", "failed". */
  state: string;
  backend: string;
  createTime: string | null;
  updateTime: string | null;
  /** Its owner. */
  createBy: string;
  /** 1 for the first run, +1 per start. */
  run: number;
  startTime: string | null;
  endTime: string | null;
  message: string;
  /** What the current (or last) run holds. */
  injected: WorkspaceSecretJson[];
  shellCommand: string;
}

/** What creating or starting a workspace returns: the workspace, and warnings for stderr. */
export interface WorkspaceChange {
  workspace: WorkspaceJson;
  warnings: string[];
}

/** What `workspace create` sends: a job's fields; the command may be empty (it idles). */
export type WorkspaceSpec = JobSpec;

export interface WorkspacePage {
  workspaces: WorkspaceJson[];
  nextPageToken: string;
}

export interface WorkspaceListQuery {
  pageSize: number;
  pageToken: string;
  /** Only workspaces whose current run holds this secret. */
  secretName?: string;
}

export interface TerminalSizeJson {
  rows: number;
  cols: number;
}

export interface ExecStartOptions {
  name: string;
  /** Empty: the workspace user's shell. */
  command: string[];
  tty: boolean;
  size?: TerminalSizeJson;
}

/** How the command ended: its status (128 + N for signal N), and the signal's name if one ended it. */
export interface ExecExitJson {
  code: number;
  signal: string;
}

export type ExecOutput = { stdout: Buffer } | { stderr: Buffer } | { exit: ExecExitJson };

/** One ExecWorkspace call: output as it arrives, and what the client sends while it runs. */
export interface ExecCall {
  /** Output, then the exit status. Ends quietly once cancel() was called. */
  readonly output: AsyncIterable<ExecOutput>;
  /** Sends stdin bytes; false when the send buffer is full (wait for onDrain). */
  sendStdin(bytes: Buffer): boolean;
  onDrain(listener: () => void): void;
  resize(size: TerminalSizeJson): void;
  closeStdin(): void;
  /** Ends the call: the server ends the command and everything it started. */
  cancel(): void;
}

/** The workspace calls vesslctl makes, for one endpoint, org and token, in the shapes it prints. */
export interface WorkspacesApi {
  readonly connection: Connection;
  createWorkspace(spec: WorkspaceSpec): Promise<WorkspaceChange>;
  getWorkspace(name: string): Promise<WorkspaceJson>;
  listWorkspaces(query: WorkspaceListQuery): Promise<WorkspacePage>;
  stopWorkspace(name: string): Promise<WorkspaceJson>;
  startWorkspace(name: string): Promise<WorkspaceChange>;
  deleteWorkspace(name: string): Promise<void>;
  execWorkspace(start: ExecStartOptions): ExecCall;
  close(): void;
}

/** The most stdin bytes one ExecWorkspace message may carry (services/job-launcher/workspaces/exec-session.ts). */
const MAX_STDIN_CHUNK = 64 * 1024;

/** Starting a run decrypts secrets and sets up a sandbox; stopping may wait for its processes. */
const SLOW_CALL = { timeoutMs: 60_000 };

const workspaceSecretJson = (s: WorkspaceSecret): WorkspaceSecretJson => ({ ...injectedSecretJson(s), refreshTime: timeJson(s.refreshTime), removed: s.removed });

/** Explicit mapper: every field, times as RFC 3339 or null, states lower case. */
function workspaceJson(workspace: Workspace | undefined): WorkspaceJson {
  if (!workspace) throw new Error('the job-launcher answered without a workspace');
  return {
    org: workspace.org,
    id: workspace.id,
    name: workspace.name,
    image: workspace.image,
    command: workspace.command,
    ...runInputJson(workspace),
    state: enumJson(workspace_StateToJSON(workspace.state)),
    backend: workspace.backend,
    createTime: timeJson(workspace.createTime),
    updateTime: timeJson(workspace.updateTime),
    createBy: workspace.createBy,
    run: workspace.run,
    startTime: timeJson(workspace.startTime),
    endTime: timeJson(workspace.endTime),
    message: workspace.message,
    injected: workspace.injected.map(workspaceSecretJson),
    shellCommand: workspace.shellCommand,
  };
}

function execOutput(response: ExecWorkspaceResponse): ExecOutput | undefined {
  switch (response.kind?.$case) {
    case 'stdout':
      return { stdout: response.kind.value };
    case 'stderr':
      return { stderr: response.kind.value };
    case 'exit':
      return { exit: { code: response.kind.value.code, signal: response.kind.value.signal } };
    default:
      return undefined; // a kind this client does not know: skip it
  }
}

export function openWorkspacesApi(connection: Connection): WorkspacesApi {
  const { endpoint, org } = connection;
  const options = clientOptions(connection);
  // One channel for the unary calls and the exec stream (the job-launcher answers on the
  // endpoint of every service, DESIGN §1).
  const channel = new Client(endpoint, options.credentials, CHANNEL_DEFAULTS);
  const workspaces = createServiceClient(WorkspaceServiceService, endpoint, { ...options, channel });

  /**
   * The call is made on the channel itself rather than through the service client's BidiCall:
   * `exec -i < big-file` needs flow control (write()'s answer and 'drain', so that stdin is read
   * only as fast as the call sends it), which BidiCall does not pass on.
   */
  function execWorkspace(start: ExecStartOptions): ExecCall {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${connection.token}`);
    const method = WorkspaceServiceService.execWorkspace;
    // No deadline: a shell lasts as long as the person at it.
    const call: ClientDuplexStream<ExecWorkspaceRequest, ExecWorkspaceResponse> = channel.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
      {},
    );
    let cancelled = false;
    const send = (kind: ExecWorkspaceRequest['kind']) => (call.writable ? call.write({ kind }) : true);
    send({ $case: 'start', value: { org, name: start.name, command: start.command, tty: start.tty, size: start.size } });
    return {
      output: {
        async *[Symbol.asyncIterator]() {
          try {
            for await (const response of call as AsyncIterable<ExecWorkspaceResponse>) {
              const output = execOutput(response);
              if (output) yield output;
            }
          } catch (err) {
            if (cancelled && isServiceError(err) && err.code === status.CANCELLED) return;
            throw err;
          } finally {
            call.cancel(); // a no-op once the call has ended
          }
        },
      },
      sendStdin(bytes) {
        // The server takes at most MAX_STDIN_CHUNK bytes a message (a pipe may hand over more).
        let ready = true;
        for (let at = 0; at < bytes.length; at += MAX_STDIN_CHUNK) ready = send({ $case: 'stdin', value: bytes.subarray(at, at + MAX_STDIN_CHUNK) });
        return ready;
      },
      onDrain: (listener) => call.once('drain', listener),
      resize: (size) => send({ $case: 'resize', value: size }),
      // The request stream stays open: its end would read as the client going away.
      closeStdin: () => void send({ $case: 'closeStdin', value: true }),
      cancel() {
        cancelled = true;
        call.cancel();
      },
    };
  }

  return {
    connection,
    async createWorkspace(spec) {
      const response = await workspaces.createWorkspace({ org, workspace: spec }, SLOW_CALL);
      return { workspace: workspaceJson(response.workspace), warnings: response.warnings };
    },
    async getWorkspace(name) {
      return workspaceJson(await workspaces.getWorkspace({ org, name }));
    },
    async listWorkspaces({ pageSize, pageToken, secretName }) {
      const response = await workspaces.listWorkspaces({ org, pageSize, pageToken, secretName: secretName ?? '' });
      return { workspaces: response.workspaces.map(workspaceJson), nextPageToken: response.nextPageToken };
    },
    async stopWorkspace(name) {
      return workspaceJson(await workspaces.stopWorkspace({ org, name }, SLOW_CALL));
    },
    async startWorkspace(name) {
      const response = await workspaces.startWorkspace({ org, name }, SLOW_CALL);
      return { workspace: workspaceJson(response.workspace), warnings: response.warnings };
    },
    async deleteWorkspace(name) {
      await workspaces.deleteWorkspace({ org, name }, SLOW_CALL);
    },
    execWorkspace,
    close() {
      channel.close();
    },
  };
}
