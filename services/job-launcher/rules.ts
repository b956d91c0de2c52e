import { KEY_PATTERN, keyRisk, MAX_KEY_LENGTH, NAME_PATTERN } from '../secret-store/rules.js';
import type { Violations } from '../runtime/validation.js';
import type { EnvEntry } from './backend.js';
import { secretFilePathProblems } from '../runtime/secret-file-paths.js';
import type { SecretRef } from './store.js';

const JOB_NAME_PATTERN = NAME_PATTERN;
// Printable, no whitespace: an image reference (registry/name:tag@digest).
const IMAGE_PATTERN = /^[!-~]{1,512}$/;
const MAX_COMMAND_BYTES = 32 * 1024;
const MAX_ENV_VALUE_BYTES = 32 * 1024;
export const MAX_ENV = 256;
export const MAX_SECRET_REFS = 64;
export const JOB_ID_PATTERN = /^j_[0-9a-f]{16}$/;

export interface JobInput {
  name: string;
  image: string;
  command: string;
  env: EnvEntry[];
  secretRefs: SecretRef[];
}

const isEnvName = (name: string) => name.length <= MAX_KEY_LENGTH && KEY_PATTERN.test(name);

/** Every rule for a submitted job, each violation naming its field. `fileRoots`: where the backend mounts secret files. */
export function checkJobInput(v: Violations, job: JobInput, fileRoots: readonly string[]): void {
  if (job.name === '') v.add('job.name', 'is required (-n NAME)');
  else v.check(JOB_NAME_PATTERN.test(job.name), 'job.name', 'must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$');
  v.check(IMAGE_PATTERN.test(job.image), 'job.image', 'is required (-i IMAGE): an image reference without spaces, at most 512 characters');
  if (job.command.trim() === '') v.add('job.command', 'is required (--cmd "..."): the command must not be empty');
  else {
    v.check(Buffer.byteLength(job.command) <= MAX_COMMAND_BYTES, 'job.command', `is longer than ${MAX_COMMAND_BYTES} bytes`);
    v.check(!job.command.includes('\0'), 'job.command', 'must not contain a NUL byte');
  }
  v.check(job.env.length <= MAX_ENV, 'job.env', `at most ${MAX_ENV} variables`);
  const names = new Set<string>();
  job.env.forEach((e, i) => {
    v.check(isEnvName(e.name), `job.env[${i}].name`, `"${e.name}" is not an environment variable name (^[A-Za-z_][A-Za-z0-9_]*$)`);
    v.check(!names.has(e.name), `job.env[${i}].name`, `${e.name} is given twice`);
    names.add(e.name);
    v.check(Buffer.byteLength(e.value) <= MAX_ENV_VALUE_BYTES, `job.env[${i}].value`, `is longer than ${MAX_ENV_VALUE_BYTES} bytes`);
    v.check(!e.value.includes('\0'), `job.env[${i}].value`, 'must not contain a NUL byte');
  });
  v.check(job.secretRefs.length <= MAX_SECRET_REFS, 'job.secrets', `at most ${MAX_SECRET_REFS} secrets`);
  job.secretRefs.forEach((s, i) => {
    v.check(NAME_PATTERN.test(s.secretName), `job.secrets[${i}].secret_name`, `"${s.secretName}" is not a secret name`);
    if (s.filePath) {
      v.check(s.envName === '', `job.secrets[${i}].env_name`, 'must be empty when file_path is set: a reference lands in a variable or in a file, not both');
      return;
    }
    v.check(s.envName === '' || isEnvName(s.envName), `job.secrets[${i}].env_name`, `"${s.envName}" is not an environment variable name (^[A-Za-z_][A-Za-z0-9_]*$)`);
    // The same rule as a secret's KEY: a secret injected as PATH or LD_PRELOAD breaks the job or runs code.
    const risk = s.envName !== '' && isEnvName(s.envName) ? keyRisk(s.envName) : undefined;
    if (risk !== undefined) v.add(`job.secrets[${i}].env_name`, risk);
  });
  const files = job.secretRefs.flatMap((s, index) => (s.filePath ? [{ index, path: s.filePath }] : []));
  const field = (i: number) => `job.secrets[${files[i].index}].file_path`;
  const problems = secretFilePathProblems(files.map((f) => f.path), fileRoots, field);
  for (const { index, problem } of problems) v.add(field(index), problem);
}
