import { KeyManagementServiceService, MasterKey_State, type MasterKey } from '../gen/vessl/kms/v1/kms.js';
import { requireRole, requireService } from '../runtime/auth.js';
import type { ServiceHandlers } from '../runtime/grpc-server.js';
import { Violations } from '../runtime/validation.js';
import type { MasterKeys, MasterKeyView } from './master-keys.js';

type Handlers = ServiceHandlers<typeof KeyManagementServiceService>;

const MAX_REWRAP_BATCH = 1000;
const UID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const STATES: Record<MasterKeyView['state'], MasterKey_State> = {
  enabled: MasterKey_State.STATE_ENABLED,
  disabled: MasterKey_State.STATE_DISABLED,
  destroyed: MasterKey_State.STATE_DESTROYED,
};

function toMasterKey(k: MasterKeyView): MasterKey {
  return {
    version: k.version,
    state: STATES[k.state],
    primary: k.primary,
    createTime: new Date(k.createdAt),
    wrappedOrgKeys: k.wrappedOrgKeys,
    wrappedDataKeys: k.wrappedDataKeys,
  };
}

/** Master key lifecycle (operators) and the rewrap primitives (the secret store only). */
export function masterKeyHandlers(masterKeys: MasterKeys): Pick<
  Handlers,
  'listMasterKeys' | 'rotateMasterKey' | 'retireMasterKey' | 'rewrapDataKeys' | 'rewrapOrgKeys'
> {
  return {
    async listMasterKeys(_req, ctx) {
      requireRole(ctx.principal, ['operator'], 'list master keys');
      return { keys: (await masterKeys.list()).map(toMasterKey) };
    },
    async rotateMasterKey(_req, ctx) {
      requireRole(ctx.principal, ['operator'], 'rotate the master key');
      return toMasterKey(await masterKeys.rotate({ actor: ctx.principal.subject, requestId: ctx.requestId }));
    },
    async retireMasterKey(req, ctx) {
      requireRole(ctx.principal, ['operator'], 'retire master keys');
      new Violations().check(Number.isInteger(req.version) && req.version >= 1, 'version', 'must be a master key version (1 or more)').throwIfAny();
      return toMasterKey(await masterKeys.retire(req.version, { actor: ctx.principal.subject, requestId: ctx.requestId }));
    },
    async rewrapDataKeys(req, ctx) {
      requireService(ctx.principal, ['secret-store'], 're-wrap data keys');
      const v = new Violations()
        .check(req.keys.length > 0, 'keys', 'name at least one data key')
        .check(req.keys.length <= MAX_REWRAP_BATCH, 'keys', `at most ${MAX_REWRAP_BATCH} per call`);
      req.keys.forEach((k, i) => {
        v.org(k.org, `keys[${i}].org`)
          .check(UID_PATTERN.test(k.secretUid), `keys[${i}].secret_uid`, 'must be 1-64 letters, digits, _ or -')
          .check(k.version >= 1, `keys[${i}].version`, 'must be a positive integer')
          .check(k.wrappedDek.length > 0, `keys[${i}].wrapped_dek`, 'is required');
      });
      v.throwIfAny();
      const { wrappedDeks, kekVersion } = masterKeys.rewrapDataKeys(req.keys);
      return { wrappedDeks: wrappedDeks.map((w) => Buffer.from(w)), kekVersion };
    },
    async rewrapOrgKeys(_req, ctx) {
      requireService(ctx.principal, ['secret-store'], 're-wrap org keys');
      return masterKeys.rewrapOrgKeys();
    },
  };
}
