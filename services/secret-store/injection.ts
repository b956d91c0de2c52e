import type { Injection, SecretReference } from '../gen/vessl/secrets/v1/secrets.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { keyRisk } from './rules.js';

export interface InjectionPlan {
  targets: Injection[];
  warnings: string[];
}

/**
 * Where each referenced secret lands (DESIGN §5): `--secret KEY=NAME` under KEY, `--secret
 * NAME` under the secret's own key, `--secret-file PATH=NAME` in a file at PATH. A plain `--env` with the same name wins: that secret is
 * neither injected nor decrypted, and a warning says so. Two secrets on one variable is an
 * error naming both, in `field`. The secret-store plans a launch when the job launcher resolves
 * its secrets (ResolveSecrets with references), so that it audits only what is injected, in the
 * call that reads the keys.
 */
export function planInjection(refs: SecretReference[], plainEnvNames: string[], keyOf: (secretName: string) => string, field: string): InjectionPlan {
  const plain = new Set(plainEnvNames);
  const warnings: string[] = [];
  const byEnv = new Map<string, Injection>();
  const byFile = new Map<string, Injection>();
  const seen = new Set<string>();
  for (const ref of refs) {
    if (ref.filePath) {
      planFile(ref, byFile, seen, field);
      continue;
    }
    const envName = ref.envName || keyOf(ref.secretName);
    const id = `${envName}=${ref.secretName}`;
    if (seen.has(id)) continue; // the same reference twice is the same injection
    seen.add(id);
    if (plain.has(envName)) {
      warnings.push(`--env ${envName} overrides secret "${ref.secretName}"; the secret is not injected`);
      continue;
    }
    const other = byEnv.get(envName);
    if (other) {
      throw new InvalidArgumentError([
        {
          field,
          description: `secrets "${other.secretName}" and "${ref.secretName}" both land on environment variable ${envName}; give one another name with --secret OTHER_NAME=${ref.secretName}`,
        },
      ]);
    }
    // Also a KEY stored before the rule existed, and a name given by any client of ResolveSecrets.
    const risk = keyRisk(envName);
    if (risk !== undefined) throw new InvalidArgumentError([{ field, description: `secret "${ref.secretName}": ${risk}` }]);
    byEnv.set(envName, { secretName: ref.secretName, envName, filePath: '' });
  }
  return { targets: [...byEnv.values(), ...byFile.values()], warnings };
}

/**
 * `--secret-file PATH=NAME`: a file lands whatever the variables are (a plain variable never
 * overrides it). Two secrets on one path is an error naming both.
 */
function planFile(ref: SecretReference, byFile: Map<string, Injection>, seen: Set<string>, field: string): void {
  const id = `${ref.filePath}\0${ref.secretName}`;
  if (seen.has(id)) return;
  seen.add(id);
  const other = byFile.get(ref.filePath);
  if (other) {
    throw new InvalidArgumentError([{ field, description: `secrets "${other.secretName}" and "${ref.secretName}" both land in file ${ref.filePath}; give one another path` }]);
  }
  byFile.set(ref.filePath, { secretName: ref.secretName, envName: '', filePath: ref.filePath });
}

/** Where a target lands, as the audit log and messages say it: "env NAME" or "file PATH". */
export const landingOf = (t: Injection) => (t.filePath ? `file ${t.filePath}` : `env ${t.envName}`);
