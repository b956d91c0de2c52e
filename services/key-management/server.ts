import { KeyManagementServiceService, type OrgPublicKey } from '../gen/vessl/kms/v1/kms.js';
import { requireOrgRole, requireService, type Principal } from '../runtime/auth.js';
import { implementService, type CallTracker, logDeniedCalls, type RegisteredService } from '../runtime/grpc-server.js';
import type { Logger } from '../runtime/logger.js';
import type { TokenVerifier } from '../runtime/auth.js';
import { Violations } from '../runtime/validation.js';
import { checkSealedValue } from '../runtime/sealed-value.js';
import type { KeyManager } from './domain.js';
import { masterKeyHandlers } from './master-key-handlers.js';
import type { MasterKeys } from './master-keys.js';
import { orgKeyHandlers, type OrgKeyServices } from './org-key-handlers.js';
import type { OrgKeyRow } from './store.js';

const MAX_DECRYPT_BATCH = 256;
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

function authorizePublicKey(principal: Principal, org: string): void {
  if (principal.role === 'service') return;
  requireOrgRole(principal, org, ['admin', 'member'], 'read the org public key');
}

export function keyManagementService(
  deps: { keys: KeyManager; masterKeys: MasterKeys; verifier: TokenVerifier; log: Logger; tracker?: CallTracker } & OrgKeyServices,
): RegisteredService {
  const { keys } = deps;
  const implementation = implementService(
    KeyManagementServiceService,
    {
      ...masterKeyHandlers(deps.masterKeys),
      ...orgKeyHandlers(deps),
      async getOrgPublicKey(req, ctx) {
        authorizePublicKey(ctx.principal, req.org);
        new Violations().org(req.org).throwIfAny();
        return toOrgPublicKey(await keys.orgPublicKey(req.org));
      },
      async encryptSealedValue(req, ctx) {
        requireService(ctx.principal, ['secret-store'], 'encrypt sealed values');
        const v = new Violations()
          .org(req.org)
          .check(UID_PATTERN.test(req.secretUid), 'secret_uid', 'must be 1-64 letters, digits, _ or -')
          .check(Number.isInteger(req.version) && req.version >= 1, 'version', 'must be a positive integer');
        checkSealedValue(v, req, '');
        v.throwIfAny();
        const encrypted = await keys.encryptSealedValue(req);
        return {
          ciphertext: Buffer.from(encrypted.ciphertext),
          wrappedDek: Buffer.from(encrypted.wrappedDek),
          kekVersion: encrypted.kekVersion,
          fingerprint: Buffer.from(encrypted.fingerprint),
        };
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
      hooks: logDeniedCalls,
    },
  );
  return { definition: KeyManagementServiceService, implementation, name: 'vessl.kms.v1.KeyManagementService' };
}
