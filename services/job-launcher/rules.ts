// The rules of a submitted job, in one place for the job launcher's server and the web console's
// New job form (which imports this file, so the browser checks by the server's own rules). This
// file therefore imports nothing that cannot run in a browser (types are erased). The messages are
// plain words that read the same in the CLI, the console and an API client: no flags, no regexes.
import { checkKey, checkName, checkSecretKey, type ViolationSink } from '../secret-store/rules.js';
import type { EnvEntry } from './backend.js';
import { secretFilePathProblems } from '../runtime/secret-file-paths.js';
import type { SecretRef } from './store.js';

// Printable, no whitespace: an image reference (registry/name:tag@digest).
const IMAGE_PATTERN = /^[!-~]+$/;
const MAX_IMAGE_LENGTH = 512;
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

/** The fields a job or workspace message carries, as the server reads them (the rest is output only). */
export interface RunMessage {
  name: string;
  image: string;
  command: string;
  env: { name: string; value: string }[];
  secrets: { secretName: string; envName: string; filePath: string }[];
}

/** What a submitted job or workspace asks for, from its message (absent: all empty, refused by the rules). */
export function runInputOf(message: RunMessage | undefined): JobInput {
  return {
    name: message?.name ?? '',
    image: message?.image ?? '',
    command: message?.command ?? '',
    env: (message?.env ?? []).map((e) => ({ name: e.name, value: e.value })),
    secretRefs: (message?.secrets ?? []).map((s) => ({ secretName: s.secretName, envName: s.envName, ...(s.filePath ? { filePath: s.filePath } : {}) })),
  };
}

/** UTF-8 length, as the server stores and the process gets it (TextEncoder: Node and browsers alike). */
const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

/** A text field's size and NUL rules (a process cannot be given a NUL byte). */
function checkText(v: ViolationSink, text: string, field: string, maxBytes: number): void {
  const bytes = utf8Bytes(text);
  v.check(bytes <= maxBytes, field, `is ${bytes} bytes long; at most ${maxBytes} bytes (${maxBytes / 1024} KiB) are allowed`);
  v.check(!text.includes('\0'), field, 'must not contain a NUL byte (a process cannot be given one)');
}

export function checkImage(v: ViolationSink, image: string, field: string): void {
  if (image === '') v.add(field, 'is required');
  else if (image.length > MAX_IMAGE_LENGTH) v.add(field, `is ${image.length} characters; at most ${MAX_IMAGE_LENGTH} are allowed`);
  else v.check(IMAGE_PATTERN.test(image), field, 'must be an image reference such as python:3.12, without spaces');
}

export function checkCommand(v: ViolationSink, command: string, field: string): void {
  if (command.trim() === '') v.add(field, command === '' ? 'is required' : 'is only spaces: give the command to run');
  else checkText(v, command, field, MAX_COMMAND_BYTES);
}

/**
 * Every rule for a submitted job, each violation naming its field. `fileRoots`: where the backend
 * mounts secret files (the browser, which does not know the backend, passes ANY_FILE_ROOT and
 * leaves that one rule to the server).
 */
export function checkJobInput(v: ViolationSink, job: JobInput, fileRoots: readonly string[]): void {
  checkRunInput(v, job, fileRoots, 'job', true);
}

/**
 * The rules jobs and workspaces share (a workspace is a long-lived job: DESIGN §5), fields named
 * under `message` ("job", "workspace"); a workspace's command may be empty (it idles).
 */
export function checkRunInput(v: ViolationSink, input: JobInput, fileRoots: readonly string[], message: string, commandRequired: boolean): void {
  checkName(v, input.name, `${message}.name`);
  checkImage(v, input.image, `${message}.image`);
  if (commandRequired || input.command !== '') checkCommand(v, input.command, `${message}.command`);
  v.check(input.env.length <= MAX_ENV, `${message}.env`, `has ${input.env.length} variables; at most ${MAX_ENV} are allowed`);
  const names = new Set<string>();
  input.env.forEach((e, i) => {
    checkKey(v, e.name, `${message}.env[${i}].name`);
    if (names.has(e.name)) v.add(`${message}.env[${i}].name`, `${e.name} is given twice: each variable once`);
    names.add(e.name);
    checkText(v, e.value, `${message}.env[${i}].value`, MAX_ENV_VALUE_BYTES);
  });
  v.check(input.secretRefs.length <= MAX_SECRET_REFS, `${message}.secrets`, `has ${input.secretRefs.length} secrets; at most ${MAX_SECRET_REFS} are allowed`);
  input.secretRefs.forEach((s, i) => {
    checkName(v, s.secretName, `${message}.secrets[${i}].secret_name`);
    if (s.filePath) v.check(s.envName === '', `${message}.secrets[${i}].env_name`, 'must be empty when the secret goes to a file: a secret lands in a variable or in a file, not both');
    // The same rule as a secret's KEY: a secret injected as PATH or LD_PRELOAD breaks the run or runs code.
    else if (s.envName !== '') checkSecretKey(v, s.envName, `${message}.secrets[${i}].env_name`);
  });
  const files = input.secretRefs.flatMap((s, index) => (s.filePath ? [{ index, path: s.filePath }] : []));
  const problems = secretFilePathProblems(
    files.map((f) => f.path),
    fileRoots,
    (i) => `secret "${input.secretRefs[files[i].index].secretName}"`,
  );
  for (const { index, problem } of problems) v.add(`${message}.secrets[${files[index].index}].file_path`, problem);
}
