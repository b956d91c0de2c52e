export { checkSealedValue } from '../runtime/sealed-value.js';

/**
 * Where a rule reports a field it refuses: the server's Violations, or the web console's
 * form check (which imports this file, so the browser checks by the server's own rules).
 * This file therefore imports nothing that cannot run in a browser.
 */
export interface ViolationSink {
  add(field: string, description: string): unknown;
  check(ok: boolean, field: string, description: string): unknown;
}
type Violations = ViolationSink;

/** The field rules of DESIGN §4, in one place for the server (and reused by the CLI and the web console). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_KEY_LENGTH = 256;
export const MAX_DESCRIPTION_LENGTH = 1024;
/** Secrets one launch resolves, and secret uids one version lookup takes (callers with more split them). */
export const MAX_SECRETS_PER_LOOKUP = 256;

export const isValidKey = (key: string) => key.length <= MAX_KEY_LENGTH && KEY_PATTERN.test(key);

export function checkName(v: Violations, name: string, field: string): void {
  if (name === '') v.add(field, 'is required');
  else if (name.length > 128) v.add(field, `is ${name.length} characters; at most 128 are allowed`);
  else v.check(NAME_PATTERN.test(name), field, 'must start with a letter or digit and hold only letters, digits, ".", "_" and "-"');
}

export function checkKey(v: Violations, key: string, field: string): void {
  if (key === '') v.add(field, 'is required');
  else if (key.length > MAX_KEY_LENGTH) v.add(field, `is ${key.length} characters; at most ${MAX_KEY_LENGTH} are allowed`);
  else v.check(KEY_PATTERN.test(key), field, 'must be an environment variable name: letters, digits and "_", not starting with a digit');
}

/**
 * Environment variables that change how every process of a job starts, finds its programs or
 * loads its code: a secret injected under one of these names breaks the job (PATH set to a token)
 * or runs what the value says (LD_PRELOAD, NODE_OPTIONS). Each with the risk a refusal names.
 * Plain variables of a job may still set them; a secret's KEY may not.
 */
const RISKY_KEYS: Record<string, string> = {
  PATH: 'decides which program each command of the job runs',
  HOME: 'decides where programs read their configuration and credentials from',
  SHELL: 'decides which shell programs start',
  IFS: 'changes how shell scripts split words',
  ENV: 'names a file every POSIX sh sources as it starts',
  BASH_ENV: 'names a file every non-interactive bash sources as it starts',
  PYTHONPATH: 'decides which modules Python imports',
  PYTHONHOME: 'decides where Python finds its standard library',
  PYTHONSTARTUP: 'names a file Python runs as it starts',
  NODE_OPTIONS: 'adds command-line options (such as --require) to every Node.js process',
  NODE_PATH: 'decides which modules Node.js loads',
  PERL5LIB: 'decides which modules Perl loads',
  PERL5OPT: 'adds command-line options to every Perl process',
  RUBYLIB: 'decides which libraries Ruby loads',
  RUBYOPT: 'adds command-line options to every Ruby process',
  JAVA_TOOL_OPTIONS: 'adds options (such as -javaagent) to every JVM',
  GCONV_PATH: 'makes glibc load code from another directory',
};

/** The dynamic loader reads every LD_* variable (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...). */
const LOADER_PREFIX = 'LD_';

/** Why `key` must not be a secret's KEY (the risk to the job), or undefined when it may be. */
export function keyRisk(key: string): string | undefined {
  // Exact names: environment variables are case-sensitive (a KEY "path" changes nothing).
  const risk = Object.hasOwn(RISKY_KEYS, key)
    ? RISKY_KEYS[key]
    : key.startsWith(LOADER_PREFIX)
      ? 'is read by the dynamic loader, which would load or search code as it says in every program'
      : undefined;
  return risk === undefined ? undefined : `${key} ${risk}; a secret injected as ${key} breaks the job or runs code of its choosing: pick another KEY (e.g. MY_${key})`;
}

/** checkKey, and no KEY that would change how the job's processes start (keyRisk). */
export function checkSecretKey(v: Violations, key: string, field: string): void {
  checkKey(v, key, field);
  const risk = isValidKey(key) ? keyRisk(key) : undefined;
  if (risk !== undefined) v.add(field, risk);
}

export function checkDescription(v: Violations, description: string, field: string): void {
  const length = [...description].length;
  v.check(length <= MAX_DESCRIPTION_LENGTH, field, `is ${length} characters; at most ${MAX_DESCRIPTION_LENGTH} are allowed`);
}

/** The fields of a new secret, KEY defaulting to NAME when NAME is an environment variable name (DESIGN §6). */
export interface NewSecretFields {
  name: string;
  key: string;
  description: string;
}

/** The rules for a new secret's fields, reported under `<prefix>secret.*`; returns them with KEY defaulted. */
export function checkNewSecretFields(v: Violations, given: NewSecretFields, prefix: string): NewSecretFields {
  const { name, description } = given;
  const key = given.key === '' && isValidKey(name) ? name : given.key;
  checkName(v, name, `${prefix}secret.name`);
  if (key === '') v.add(`${prefix}secret.key`, `is required because the name "${name}" is not an environment variable name`);
  else checkSecretKey(v, key, `${prefix}secret.key`);
  checkDescription(v, description, `${prefix}secret.description`);
  return { name, key, description };
}
