import { failedPrecondition, notFound } from '../runtime/errors.js';
import type { KeyManager } from './domain.js';
import type { OrgKeyLifecycleStore } from './org-key-store.js';
import type { OrgKeyRow } from './store.js';

export type OrgKeyAction = 'org_key.rotated' | 'org_key.retired';

/** A change to an org's keys, as it goes into the org's audit log (secret-store). */
export interface OrgKeyEvent {
  org: string;
  actor: string;
  requestId: string;
  action: OrgKeyAction;
  details: Record<string, string>;
}

/** Appends the event to the org's audit log; rejects when it was not recorded. */
export type RecordOrgKeyEvent = (event: OrgKeyEvent) => Promise<void>;

export interface Actor {
  subject: string;
  requestId: string;
}

/** The audit log did not take the event, so the change was rolled back. */
export class AuditNotRecordedError extends Error {
  constructor(
    readonly action: OrgKeyAction,
    override readonly cause: unknown,
  ) {
    super(`the audit log did not record ${action}`);
    this.name = 'AuditNotRecordedError';
  }
}

/** A concurrent first use created the org's primary key while a rotation ran: run it again. */
class LostPrimaryRace extends Error {}

/** Rotations retried after losing to a concurrent first use of the org key. */
const MAX_ROTATION_ATTEMPTS = 3;

/**
 * The org key lifecycle: primary → previous (by a rotation; still opens sealed values) →
 * retired (refused from then on). No audit, no change: every change is recorded in the
 * org's audit log before its transaction commits, and rolled back if that fails.
 */
export class OrgKeyLifecycle {
  constructor(
    private readonly store: Pick<
      OrgKeyLifecycleStore,
      'inOrgKeyTransaction' | 'listOrgKeys' | 'orgKey' | 'demotePrimaryOrgKey' | 'insertOrgKey' | 'retireOrgKey'
    >,
    private readonly keys: Pick<KeyManager, 'newOrgKey'>,
    private readonly record: RecordOrgKeyEvent,
    private readonly now: () => number = Date.now,
    /** Readies what recording a change needs before its transaction opens (the org's audit chain key). */
    private readonly beforeChange: (org: string) => Promise<void> = async () => {},
  ) {}

  list(org: string): Promise<OrgKeyRow[]> {
    return this.store.listOrgKeys(org);
  }

  /** Makes a new primary keypair; the old primary becomes previous, in one transaction. */
  async rotate(org: string, actor: Actor): Promise<OrgKeyRow> {
    await this.beforeChange(org);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.inOrgKeyTransaction(org, async (trx) => {
          const previous = await this.store.demotePrimaryOrgKey(org, trx);
          const created = this.keys.newOrgKey(org);
          // Strictly newer than the key it replaces, so newest-first listings are exact.
          if (previous && created.createdAt <= previous.createdAt) created.createdAt = previous.createdAt + 1;
          if (!(await this.store.insertOrgKey(created, trx))) throw new LostPrimaryRace();
          await this.audit(org, actor, 'org_key.rotated', { key_id: created.keyId, previous_key_id: previous?.keyId ?? '' });
          return created;
        });
      } catch (err) {
        if (!(err instanceof LostPrimaryRace) || attempt >= MAX_ROTATION_ATTEMPTS) throw err;
      }
    }
  }

  /** Retires a previous key; retiring a retired key returns it unchanged (and records nothing). */
  async retire(org: string, keyId: string, actor: Actor): Promise<OrgKeyRow> {
    await this.beforeChange(org);
    return this.store.inOrgKeyTransaction(org, async (trx) => {
      const key = await this.store.orgKey(org, keyId, trx);
      if (!key) throw notFound(`org key "${keyId}" not found in org "${org}"`, 'ORG_KEY_NOT_FOUND');
      if (key.state === 'retired') return key;
      if (key.state === 'primary') {
        throw failedPrecondition(
          `org key "${keyId}" is the primary key of org "${org}"; rotate first (a new primary replaces it), then retire it`,
          'ORG_KEY_PRIMARY',
        );
      }
      const retiredAt = this.now();
      await this.store.retireOrgKey(org, keyId, retiredAt, trx);
      await this.audit(org, actor, 'org_key.retired', { key_id: keyId });
      return { ...key, state: 'retired', retiredAt };
    });
  }

  private async audit(org: string, actor: Actor, action: OrgKeyAction, details: Record<string, string>): Promise<void> {
    try {
      await this.record({ org, actor: actor.subject, requestId: actor.requestId, action, details });
    } catch (err) {
      throw new AuditNotRecordedError(action, err);
    }
  }
}
