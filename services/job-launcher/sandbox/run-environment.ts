import { BackendError, type EnvEntry, type SecretEnvEntry } from '../backend.js';

/**
 * The whole environment of something that runs on the local backend (a job attempt, a
 * workspace run), built from nothing: the server's own environment (its credentials) never
 * reaches it. `base` first (PATH, LANG, ids), then the plain variables, then the secret ones;
 * a bad name, a name given twice, or a value no environment can carry is refused (the launcher
 * checked them already; this is where the process is made).
 */

/** The PATH a job or workspace starts with. */
export const RUN_PATH = '/usr/local/bin:/usr/bin:/bin';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function runEnvironment(base: Record<string, string>, spec: { env: EnvEntry[]; secretEnv: SecretEnvEntry[] }, invalid: (publicMessage: string) => BackendError): Record<string, string> {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  Object.assign(env, base);
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
    env[name] = secretText(name, value, invalid);
  }
  return env;
}

/** An env var is a NUL-terminated string, and Node passes UTF-8: a value that is not that would arrive altered. */
function secretText(name: string, value: Uint8Array, invalid: (publicMessage: string) => BackendError): string {
  if (value.includes(0)) throw invalid(`secret for ${name} holds a NUL byte and cannot be an environment variable`);
  try {
    return strictUtf8.decode(value);
  } catch {
    throw invalid(`secret for ${name} is not UTF-8 text and cannot be an environment variable`);
  }
}
