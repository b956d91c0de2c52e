import type { Injection, SecretReference } from '../gen/vessl/secrets/v1/secrets.js';
import { InvalidArgumentError } from '../runtime/errors.js';

export interface InjectionPlan {
  targets: Injection[];
  warnings: string[];
}

/**
 * Where each referenced secret lands (DESIGN §5): `--secret KEY=NAME` under KEY, `--secret
 * NAME` under the secret's own key. A plain `--env` with the same name wins: that secret is
 * neither injected nor decrypted, and a warning says so. Two secrets on one variable is an
 * error naming both, in `field`. The secret-store plans a launch when the job launcher resolves
 * its secrets (ResolveSecrets with references), so that it audits only what is injected, in the
 * call that reads the keys.
 */
export function planInjection(refs: SecretReference[], plainEnvNames: string[], keyOf: (secretName: string) => string, field: string): InjectionPlan {
  const plain = new Set(plainEnvNames);
  const warnings: string[] = [];
  const byEnv = new Map<string, Injection>();
  const seen = new Set<string>();
  for (const ref of refs) {
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
    byEnv.set(envName, { secretName: ref.secretName, envName });
  }
  return { targets: [...byEnv.values()], warnings };
}
