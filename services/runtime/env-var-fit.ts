import { isUtf8 } from 'node:buffer';
import { failedPrecondition, type ApiError } from './errors.js';

/**
 * Whether a secret value can be a job's environment variable. execve takes NUL-terminated
 * strings, so a NUL byte would cut the value short; Node, the Kubernetes API and the
 * container runtime carry environment values as UTF-8 text, so other bytes would be
 * replaced. Either would hand the job a different value than the one stored; such a value
 * is refused as a variable instead (it stays a valid secret, e.g. for a file mount).
 */
export type EnvVarFit = 'ok' | 'nul_byte' | 'not_utf8';

export function envVarFitOf(value: Uint8Array): EnvVarFit {
  if (value.includes(0)) return 'nul_byte';
  return isUtf8(value) ? 'ok' : 'not_utf8';
}

/** Why a value cannot be a variable, for messages: "its value holds a NUL byte". */
export const ENV_VAR_UNFIT_REASONS: Record<Exclude<EnvVarFit, 'ok'>, string> = {
  nul_byte: 'its value holds a NUL byte, which no process environment can carry',
  not_utf8: 'its value is not valid UTF-8 text, which environment variables must be',
};

/**
 * The refusal of a launch that asks for an unfit value as a variable: FAILED_PRECONDITION
 * (retrying cannot help, so never UNAVAILABLE), naming the secret, the variable and why.
 */
export function unfitVariableError(secretName: string, envName: string, fit: Exclude<EnvVarFit, 'ok'>): ApiError {
  return failedPrecondition(
    `secret "${secretName}" cannot be injected as environment variable ${envName}: ${ENV_VAR_UNFIT_REASONS[fit]}; rotate it to UTF-8 text without NUL bytes to use it as a variable`,
    'SECRET_NOT_ENV_VAR_SAFE',
  );
}
