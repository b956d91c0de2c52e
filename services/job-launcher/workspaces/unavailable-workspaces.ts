import { BackendPreconditionError } from '../backend.js';
import type { WorkspaceBackend } from './workspace-backend.js';

/**
 * The workspace backend of a server whose local jobs run without a sandbox
 * (--unsafe-no-job-sandbox): a workspace is entered by joining its sandbox's namespaces, so
 * without one there is nothing safe to run. Every start is refused with FAILED_PRECONDITION
 * saying why; jobs still run.
 */
export const UNSANDBOXED_WORKSPACES_REFUSAL =
  'workspaces need the job sandbox, and this server runs jobs without one (--unsafe-no-job-sandbox): a workspace is a long-lived sandbox that exec enters; run the server with its sandbox (bubblewrap) to use workspaces';

export function unavailableWorkspaceBackend(reason: string): WorkspaceBackend {
  const refuse = async (): Promise<never> => {
    throw new BackendPreconditionError(`workspaces are unavailable: ${reason}`, reason, 'WORKSPACES_UNAVAILABLE');
  };
  return {
    name: 'local',
    secretFiles: { roots: [], refusal: reason },
    start: refuse,
    status: async () => ({ state: 'FAILED', message: 'workspaces are unavailable on this server' }),
    stop: async () => undefined,
    remove: async () => undefined,
    exec: refuse,
    writeFile: refuse,
    removeFile: async () => undefined,
    close: async () => undefined,
  };
}
