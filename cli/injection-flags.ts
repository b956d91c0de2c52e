// The flags that put org secrets and plain variables into a job or a workspace: one definition
// for `job create` and `workspace create`, parsed by job-format.ts's parsers.
import { Flags } from './oclif.js';
import { parseEnvFlags, parseSecretFileFlags, parseSecretFlags } from './job-format.js';
import type { JobSpec } from './jobs-api.js';

export const injectionFlags = {
  env: Flags.string({
    char: 'e',
    multiple: true,
    description: 'Plain environment variable (repeatable). Split at the first "="; KEY= sets an empty value.',
    helpValue: 'KEY=VALUE',
  }),
  secret: Flags.string({
    char: 's',
    multiple: true,
    description: 'Org secret to inject (repeatable): NAME injects it under its key, KEY=NAME under KEY.',
    helpValue: 'NAME|KEY=NAME',
  }),
  'secret-file': Flags.string({
    multiple: true,
    description: 'Org secret to mount as a read-only file at PATH (repeatable), e.g. an SSH key or a service-account JSON.',
    helpValue: 'PATH=NAME',
  }),
};

/** The env and secrets of a spec, from the flags above (a malformed one is a usage error). */
export function injectionsOf(flags: { env?: string[]; secret?: string[]; 'secret-file'?: string[] }): Pick<JobSpec, 'env' | 'secrets'> {
  return {
    env: parseEnvFlags(flags.env),
    secrets: [...parseSecretFlags(flags.secret), ...parseSecretFileFlags(flags['secret-file'])],
  };
}
