import { timingSafeEqual } from 'node:crypto';
import { failedPrecondition } from '../runtime/errors.js';
import type { Actor, SealedValue, SecretManager } from './domain.js';
import type { SecretStore } from './store.js';

/** The keyed fingerprint of a sealed value, computed by key-management (which alone can open it). */
export type FingerprintSealedValue = (req: { org: string; sealedBox: Buffer; keyId: string }, requestId: string) => Promise<Uint8Array>;

export interface VerificationResult {
  matches: boolean;
  /** The version compared against. */
  version: number;
}

/**
 * Tells an admin whether a candidate value is a secret's current value by comparing keyed
 * fingerprints; neither value is ever shown. Each check is audited: it is a guessing oracle.
 */
export class ValueVerification {
  constructor(
    private readonly secrets: Pick<SecretManager, 'get'>,
    private readonly store: Pick<SecretStore, 'appendAudit'>,
    private readonly fingerprint: FingerprintSealedValue,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(org: string, name: string, candidate: SealedValue, actor: Actor): Promise<VerificationResult> {
    const row = await this.secrets.get(org, name);
    const stored = row.value?.fingerprint;
    if (!stored) {
      throw failedPrecondition(
        `secret "${name}" has no value fingerprint (its value was stored before fingerprints existed); rotate its value once to verify it`,
        'FINGERPRINT_MISSING',
      );
    }
    const expected = Buffer.from(stored, 'hex');
    const actual = await this.fingerprint({ org, ...candidate }, actor.requestId);
    // Constant time: the comparison must not leak how much of a guess was right.
    const matches = actual.length === expected.length && timingSafeEqual(actual, expected);
    await this.store.appendAudit([
      {
        org,
        time: this.now(),
        actor: actor.subject,
        action: 'secret.verified',
        secretName: row.name,
        secretUid: row.uid,
        secretVersion: row.version,
        requestId: actor.requestId,
        details: { matches },
      },
    ]);
    return { matches, version: row.version };
  }
}
