import type { KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import type { SecretServiceService } from '../gen/vessl/secrets/v1/secrets.js';
import { requireOrgRole } from '../runtime/auth.js';
import { fromDownstream } from '../runtime/errors.js';
import type { ServiceClient } from '../runtime/grpc-client.js';
import type { ServiceHandlers } from '../runtime/grpc-server.js';
import { Violations } from '../runtime/validation.js';
import type { SecretManager } from './domain.js';
import { checkName, checkSealedValue } from './rules.js';
import type { SecretStore } from './store.js';
import { ValueVerification } from './verification.js';

export type VerifyHandlers = Pick<ServiceHandlers<typeof SecretServiceService>, 'verifySecretValue'>;

/** VerifySecretValue, spread into secret-store's handlers. */
export function verifyHandlers(deps: {
  secrets: Pick<SecretManager, 'get'>;
  store: Pick<SecretStore, 'appendAudit'>;
  kms: Pick<ServiceClient<typeof KeyManagementServiceService>, 'fingerprintSealedValue'>;
}): VerifyHandlers {
  const verification = new ValueVerification(deps.secrets, deps.store, async (req, requestId) => {
    try {
      return (await deps.kms.fingerprintSealedValue(req, { requestId })).fingerprint;
    } catch (err) {
      // key-management's complaints about the sealed value name this request's `value`.
      throw fromDownstream(err, 'key-management', (field) => `value.${field}`);
    }
  });
  return {
    async verifySecretValue(req, ctx) {
      requireOrgRole(ctx.principal, req.org, ['admin'], 'verify secret values');
      const v = new Violations();
      checkName(v, req.name, 'name');
      checkSealedValue(v, req.value, 'value.');
      v.throwIfAny();
      return verification.verify(req.org, req.name, req.value!, { subject: ctx.principal.subject, requestId: ctx.requestId });
    },
  };
}
