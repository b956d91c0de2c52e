import {
  EncryptSealedValueResponse_EnvVarFit,
  KeyManagementServiceService,
  type EncryptSealedValueRequest,
  type EncryptSealedValueResponse,
  type OrgPublicKey,
} from '../gen/vessl/kms/v1/kms.js';
import { requireOrgRole, requireService, type Principal } from '../runtime/auth.js';
import { implementService, type CallTracker, type RegisteredService } from '../runtime/grpc-server.js';
import type { DenialAudit } from '../runtime/denial-audit.js';
import type { Logger } from '../runtime/logger.js';
import type { TokenVerifier } from '../runtime/auth.js';
import { Violations } from '../runtime/validation.js';
import { checkSealedValue } from '../runtime/sealed-value.js';
import type { EncryptedSealedValue, KeyManager } from './domain.js';
import type { EnvVarFit } from '../runtime/env-var-fit.js';
import { masterKeyHandlers } from './master-key-handlers.js';
import { auditChainHandlers } from './audit-chain-handlers.js';
import type { AuditChainKeys } from './audit-chain.js';
import type { MasterKeys } from './master-keys.js';
import { orgKeyHandlers, type OrgKeyServices } from './org-key-handlers.js';
import type { OrgKeyRow } from './store.js';

const MAX_DECRYPT_BATCH = 256;
const MAX_ENCRYPT_BATCH = 500;
const UID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function toOrgPublicKey(row: OrgKeyRow): OrgPublicKey {
  return {
    org: row.org,
    keyId: row.keyId,
    publicKey: Buffer.from(row.publicKey),
    algorithm: 'crypto_box_seal/x25519-xsalsa20-poly1305',
    createTime: new Date(row.createdAt),
  };
}

/** The fields of one value to encrypt, besides its org. */
function checkValueToEncrypt(v: Violations, req: EncryptSealedValueRequest, prefix: string): void {
  v.check(UID_PATTERN.test(req.secretUid), `${prefix}secret_uid`, 'must be 1-64 letters, digits, _ or -').check(
    Number.isInteger(req.version) && req.version >= 1,
    `${prefix}version`,
    'must be a positive integer',
  );
  checkSealedValue(v, req, prefix);
}

const ENV_VAR_FIT_TO_PROTO: Record<EnvVarFit, EncryptSealedValueResponse_EnvVarFit> = {
  ok: EncryptSealedValueResponse_EnvVarFit.ENV_VAR_FIT_OK,
  nul_byte: EncryptSealedValueResponse_EnvVarFit.ENV_VAR_FIT_NUL_BYTE,
  not_utf8: EncryptSealedValueResponse_EnvVarFit.ENV_VAR_FIT_NOT_UTF8,
};

function toEncryptResponse(encrypted: EncryptedSealedValue): EncryptSealedValueResponse {
  return {
    ciphertext: Buffer.from(encrypted.ciphertext),
    wrappedDek: Buffer.from(encrypted.wrappedDek),
    kekVersion: encrypted.kekVersion,
    fingerprint: Buffer.from(encrypted.fingerprint),
    envVarFit: ENV_VAR_FIT_TO_PROTO[encrypted.envVarFit],
  };
}

function authorizePublicKey(principal: Principal, org: string): void {
  if (principal.role === 'service') return;
  requireOrgRole(principal, org, ['admin', 'member'], 'read the org public key');
}

export function keyManagementService(
  deps: { keys: KeyManager; masterKeys: MasterKeys; auditChain: AuditChainKeys; denials: DenialAudit; verifier: TokenVerifier; log: Logger; tracker?: CallTracker } & OrgKeyServices,
): RegisteredService {
  const { keys } = deps;
  const implementation = implementService(
    KeyManagementServiceService,
    {
      ...masterKeyHandlers(deps.masterKeys),
      ...orgKeyHandlers(deps),
      ...auditChainHandlers(deps.auditChain),
      async getOrgPublicKey(req, ctx) {
        authorizePublicKey(ctx.principal, req.org);
        new Violations().org(req.org).throwIfAny();
        return toOrgPublicKey(await keys.orgPublicKey(req.org));
      },
      async encryptSealedValue(req, ctx) {
        requireService(ctx.principal, ['secret-store'], 'encrypt sealed values');
        const v = new Violations().org(req.org);
        checkValueToEncrypt(v, req, '');
        v.throwIfAny();
        return toEncryptResponse(await keys.encryptSealedValue(req));
      },
      async encryptSealedValues(req, ctx) {
        requireService(ctx.principal, ['secret-store'], 'encrypt sealed values');
        const org = req.requests[0]?.org ?? '';
        const v = new Violations()
          .check(req.requests.length > 0, 'requests', 'name at least one value')
          .check(req.requests.length <= MAX_ENCRYPT_BATCH, 'requests', `at most ${MAX_ENCRYPT_BATCH} values per call`);
        if (req.requests.length > 0) v.org(org, 'requests[0].org');
        req.requests.forEach((r, i) => {
          v.check(r.org === org, `requests[${i}].org`, `must be the org of requests[0] ("${org}"): one org per call`);
          checkValueToEncrypt(v, r, `requests[${i}].`);
        });
        v.throwIfAny();
        return { values: (await keys.encryptSealedValues(org, req.requests)).map(toEncryptResponse) };
      },
      async decryptForInjection(req, ctx) {
        requireService(ctx.principal, ['job-launcher'], 'decrypt values for injection');
        const v = new Violations()
          .org(req.org)
          .check(req.values.length > 0, 'values', 'name at least one value')
          .check(req.values.length <= MAX_DECRYPT_BATCH, 'values', `at most ${MAX_DECRYPT_BATCH} values per call`);
        req.values.forEach((value, i) => {
          v.check(UID_PATTERN.test(value.secretUid), `values[${i}].secret_uid`, 'must be 1-64 letters, digits, _ or -')
            .check(value.version >= 1, `values[${i}].version`, 'must be a positive integer')
            .check(value.ciphertext.length > 0, `values[${i}].ciphertext`, 'is required')
            .check(value.wrappedDek.length > 0, `values[${i}].wrapped_dek`, 'is required');
        });
        v.throwIfAny();
        const plaintexts = keys.decryptForInjection(req.org, req.values);
        // Copy into the response buffers and zero the decrypted originals at once.
        const values = plaintexts.map((p) => Buffer.from(p));
        for (const p of plaintexts) p.fill(0);
        return { values };
      },
    },
    {
      verifier: deps.verifier,
      log: deps.log,
      tracker: deps.tracker,
      hooks: deps.denials.hooks,
    },
  );
  return { definition: KeyManagementServiceService, implementation, name: 'vessl.kms.v1.KeyManagementService' };
}
