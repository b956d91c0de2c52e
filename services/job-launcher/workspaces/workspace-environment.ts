import { BackendError } from '../backend.js';
import { runEnvironment, RUN_PATH } from '../sandbox/run-environment.js';
import { SANDBOX_HOME } from '../sandbox/bubblewrap.js';
import type { WorkspaceSpec } from './workspace-backend.js';

/**
 * A local workspace run's whole environment, built from nothing (the server's own never reaches
 * it): the defaults a job gets, then the spec's variables and secret variables. The run's main
 * process starts with it, and every exec gets exactly it again (kept in memory for the run).
 */

const invalid = (publicMessage: string) => new BackendError(`local workspaces: ${publicMessage}`, publicMessage);

export function workspaceEnvironment(spec: WorkspaceSpec): Record<string, string> {
  return runEnvironment({ PATH: RUN_PATH, LANG: 'C.UTF-8', HOME: SANDBOX_HOME, VESSL_WORKSPACE: spec.name }, spec, invalid);
}
