import { KeyManagementServiceService } from '../../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../../services/gen/vessl/secrets/v1/secrets.js';
import { createServiceClient } from '../../services/runtime/grpc-client.js';

/**
 * Secret values as a job launch gets them (resolve the ciphertext, decrypt for injection):
 * the only way a value ever comes back. `token` must be svc:job-launcher's. `endpoint` is
 * the all-in-one server's, or each service's when they run apart.
 */
export async function valuesAsLaunched(endpoint: string | { secretStore: string; kms: string }, token: string, org: string, names: string[]): Promise<Buffer[]> {
  const opts = { token: async () => token, defaultTimeoutMs: 60_000 };
  const at = typeof endpoint === 'string' ? { secretStore: endpoint, kms: endpoint } : endpoint;
  const secrets = createServiceClient(SecretServiceService, at.secretStore, opts);
  const kms = createServiceClient(KeyManagementServiceService, at.kms, opts);
  const out: Buffer[] = [];
  try {
    for (let i = 0; i < names.length; i += 256) {
      const resolved = await secrets.resolveSecrets({ org, names: names.slice(i, i + 256) });
      const { values } = await kms.decryptForInjection({
        org,
        values: resolved.secrets.map((s) => ({ secretUid: s.uid, version: s.version, ciphertext: s.ciphertext, wrappedDek: s.wrappedDek, kekVersion: s.kekVersion })),
      });
      out.push(...values);
    }
    return out;
  } finally {
    secrets.close();
    kms.close();
  }
}
