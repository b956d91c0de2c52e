import { BackendError } from '../backend.js';
import { JOB_PATH } from '../backends/local.js';
import { SANDBOX_HOME } from '../sandbox/bubblewrap.js';
import type { WorkspaceSpec } from './workspace-backend.js';

/**
 * A local workspace run's whole environment, built from nothing (the server's own never reaches
 * it): the defaults a job gets, then the spec's variables and secret variables. The run's main
 * process starts with it, and every exec gets exactly it again (kept in memory for the run).
 */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const invalid = (publicMessage: string) => new BackendError(`local workspaces: ${publicMessage}`, publicMessage);

export function workspaceEnvironment(spec: WorkspaceSpec): Record<string, string> {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  Object.assign(env, { PATH: JOB_PATH, LANG: 'C.UTF-8', HOME: SANDBOX_HOME, VESSL_WORKSPACE: spec.name });
  const seen = new Set<string>();
  const checkName = (name: string) => {
    if (!ENV_NAME.test(name)) throw invalid(`${JSON.stringify(name.slice(0, 140))} is not a valid environment variable name`);
    if (seen.has(name)) throw invalid(`environment variable ${name} is set twice`);
    seen.add(name);
  };
  for (const { name, value } of spec.env) {
    checkName(name);
    if (value.includes('\0')) throw invalid(`the value of ${name} holds a NUL byte and cannot be an environment variable`);
    env[name] = value;
  }
  for (const { name, value } of spec.secretEnv) {
    checkName(name);
    env[name] = secretText(name, value);
  }
  return env;
}

/** An env var is a NUL-terminated string: a value that is not UTF-8 text would reach the run altered. */
function secretText(name: string, value: Uint8Array): string {
  if (value.includes(0)) throw invalid(`secret for ${name} holds a NUL byte and cannot be an environment variable`);
  try {
    return strictUtf8.decode(value);
  } catch {
    throw invalid(`secret for ${name} is not UTF-8 text and cannot be an environment variable`);
  }
}
