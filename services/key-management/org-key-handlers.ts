import { KeyManagementServiceService, OrgKey_State, type OrgKey } from '../gen/vessl/kms/v1/kms.js';
import { requireOrgRole, requireService } from '../runtime/auth.js';
import { unavailable } from '../runtime/errors.js';
import type { CallContext, ServiceHandlers } from '../runtime/grpc-server.js';
import { checkSealedValue, KEY_ID_PATTERN } from '../runtime/sealed-value.js';
import { Violations } from '../runtime/validation.js';
import type { KeyManager } from './domain.js';
import type { ValueFingerprints } from './fingerprints.js';
import { AuditNotRecordedError, type Actor, type OrgKeyLifecycle } from './org-keys.js';
import type { OrgKeyRow, OrgKeyState } from './store.js';

/** What the org key and fingerprint handlers need besides the KeyManager. */
export interface OrgKeyServices {
  orgKeys: OrgKeyLifecycle;
  fingerprints: ValueFingerprints;
}

type OrgKeyHandlers = Pick<
  ServiceHandlers<typeof KeyManagementServiceService>,
  'rotateOrgKey' | 'listOrgKeys' | 'retireOrgKey' | 'fingerprintSealedValue'
>;

const STATES: Record<OrgKeyState, OrgKey_State> = {
  primary: OrgKey_State.STATE_PRIMARY,
  previous: OrgKey_State.STATE_PREVIOUS,
  retired: OrgKey_State.STATE_RETIRED,
};

/** Explicit mapper: the public half and lifecycle only, never the wrapped private key. */
export function toOrgKeyMessage(row: OrgKeyRow): OrgKey {
  return {
    org: row.org,
    keyId: row.keyId,
    publicKey: Buffer.from(row.publicKey),
    state: STATES[row.state],
    createTime: new Date(row.createdAt),
    retireTime: row.retiredAt === undefined ? undefined : new Date(row.retiredAt),
  };
}

const actorOf = (ctx: CallContext): Actor => ({ subject: ctx.principal.subject, requestId: ctx.requestId });

/** No audit, no change: a change the audit log refused was rolled back; the caller may retry. */
async function audited(ctx: CallContext, change: () => Promise<OrgKeyRow>): Promise<OrgKey> {
  try {
    return toOrgKeyMessage(await change());
  } catch (err) {
    if (!(err instanceof AuditNotRecordedError)) throw err;
    ctx.log.error({ err: err.cause, action: err.action }, 'audit log unavailable; org key change rolled back');
    throw unavailable('the audit log (secret-store) did not record the change, so nothing changed; retry shortly');
  }
}

export function orgKeyHandlers(deps: OrgKeyServices & { keys: KeyManager }): OrgKeyHandlers {
  const { orgKeys, fingerprints, keys } = deps;
  return {
    async rotateOrgKey(req, ctx) {
      requireOrgRole(ctx.principal, req.org, ['admin'], 'rotate the org key');
      new Violations().org(req.org).throwIfAny();
      return audited(ctx, () => orgKeys.rotate(req.org, actorOf(ctx)));
    },
    async listOrgKeys(req, ctx) {
      requireOrgRole(ctx.principal, req.org, ['admin'], 'list the org keys');
      new Violations().org(req.org).throwIfAny();
      return { keys: (await orgKeys.list(req.org)).map(toOrgKeyMessage) };
    },
    async retireOrgKey(req, ctx) {
      requireOrgRole(ctx.principal, req.org, ['admin'], 'retire org keys');
      new Violations()
        .org(req.org)
        .check(KEY_ID_PATTERN.test(req.keyId), 'key_id', 'must be an org key id such as ok_…; `vesslctl org keys` lists them')
        .throwIfAny();
      return audited(ctx, () => orgKeys.retire(req.org, req.keyId, actorOf(ctx)));
    },
    async fingerprintSealedValue(req, ctx) {
      requireService(ctx.principal, ['secret-store'], 'fingerprint sealed values');
      const v = new Violations().org(req.org);
      checkSealedValue(v, req, '');
      v.throwIfAny();
      return { fingerprint: Buffer.from(await fingerprints.ofSealedValue(keys, req)) };
    },
  };
}
