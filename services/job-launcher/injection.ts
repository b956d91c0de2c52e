import { InvalidArgumentError } from '../runtime/errors.js';
import type { SecretRef } from './store.js';

export interface InjectionTarget {
  secretName: string;
  envName: string;
}

export interface InjectionPlan {
  targets: InjectionTarget[];
  warnings: string[];
}

/**
 * Where each referenced secret lands (DESIGN §5): `--secret KEY=NAME` under KEY, `--secret
 * NAME` under the secret's own key. A plain `--env` with the same name wins: that secret is
 * neither injected nor decrypted, and a warning says so. Two secrets on one variable is an
 * error naming both, in `field`. The secret-store plans with this too: it audits what a
 * launch injects, in the same call that reads the keys.
 */
export function planInjection(refs: SecretRef[], plainEnvNames: string[], keyOf: (secretName: string) => string, field = 'job.secrets'): InjectionPlan {
  const plain = new Set(plainEnvNames);
  const warnings: string[] = [];
  const byEnv = new Map<string, InjectionTarget>();
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
