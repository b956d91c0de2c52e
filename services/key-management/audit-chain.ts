import { status } from '@grpc/grpc-js';
import sodium from 'libsodium-wrappers';
import { chainKeyOf, checkpointMessage, checkpointSeedOf, GENESIS_LINK, linkEvents, type LinkInput } from '../runtime/audit-link.js';
import { ApiError, failedPrecondition } from '../runtime/errors.js';
import { zero } from './envelope.js';
import type { AuditCheckpointStore, StoredCheckpoint } from './audit-checkpoint-store.js';
import type { ValueFingerprints } from './fingerprints.js';

/** A checkpoint as answered: the stored one with the public key its signature checks under. */
export interface SignedCheckpoint extends StoredCheckpoint {
  publicKey: Uint8Array;
}

export interface CheckpointRequest {
  org: string;
  fromSeq: number;
  fromLink: Uint8Array;
  keyedFrom: number;
  /** The events after fromSeq, in seq order (the handler checks they are consecutive). */
  events: { seq: number; digest: Uint8Array }[];
  link: Uint8Array;
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && sodium.memcmp(a, b);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * The audit chain's keys in key-management (docs/crypto.md, "Audit chain"): links are MACs
 * under a subkey of the org's audit key, and checkpoints are signed by an Ed25519 key derived
 * from it. Both keys exist only for the length of a call; the audit key stays wrapped under the
 * master key (and is rewrapped with it) like the fingerprint key it is.
 */
export class AuditChainKeys {
  constructor(
    private readonly keys: Pick<ValueFingerprints, 'withAuditKey'>,
    private readonly store: AuditCheckpointStore,
    private readonly now: () => number = Date.now,
  ) {}

  async link(org: string, inputs: LinkInput[]): Promise<Uint8Array[]> {
    return this.keys.withAuditKey(org, (auditKey) => withKey(chainKeyOf(auditKey), (chainKey) => linkEvents(chainKey, inputs)));
  }

  /** The org's checkpoint, its signature checked: a row edited in this database is refused. */
  async checkpoint(org: string): Promise<SignedCheckpoint | undefined> {
    const stored = await this.store.checkpoint(org);
    if (!stored) return undefined;
    const publicKey = await this.keys.withAuditKey(org, (auditKey) => signingKeys(auditKey, (pair) => pair.publicKey));
    return { ...checkedSignature(stored, publicKey), publicKey };
  }

  /**
   * Signs a new checkpoint if the given events extend the stored one: their links are
   * recomputed from the stored link, and the last must be the link the secret store holds.
   * A cut, rolled-back or rewritten chain therefore cannot be anchored again.
   */
  async record(req: CheckpointRequest): Promise<SignedCheckpoint> {
    const stored = await this.store.checkpoint(req.org);
    const last = req.events[req.events.length - 1];
    const time = this.now();
    // One derivation of the signing keys checks the stored checkpoint and signs the next.
    const signed = await this.keys.withAuditKey(req.org, (auditKey) =>
      signingKeys(auditKey, (pair) => {
        if (stored) checkedSignature(stored, pair.publicKey);
        checkStartsAtCheckpoint(req, stored);
        const inputs = req.events.map((e, i) => (i === 0 ? { ...e, prevLink: req.fromLink } : e));
        const links = withKey(chainKeyOf(auditKey), (chainKey) => linkEvents(chainKey, inputs));
        const link = links[links.length - 1];
        if (!equal(link, req.link)) return undefined;
        const checkpoint = { org: req.org, seq: last.seq, link, keyedFrom: req.keyedFrom, time };
        return { ...checkpoint, signature: sodium.crypto_sign_detached(checkpointMessage(checkpoint), pair.privateKey), publicKey: pair.publicKey };
      }),
    );
    if (!signed) {
      throw failedPrecondition(
        `the audit chain of org "${req.org}" does not extend its checkpoint at #${req.fromSeq}: the events after it do not give the link held for #${last.seq}; an event was altered`,
        'AUDIT_CHAIN_DIVERGED',
      );
    }
    if (!(await this.store.advance(signed, stored?.seq))) throw checkpointMoved(req.org);
    return signed;
  }
}

/** The stored checkpoint, if its signature holds under the org's checkpoint key; DATA_LOSS otherwise. */
function checkedSignature(stored: StoredCheckpoint, publicKey: Uint8Array): StoredCheckpoint {
  if (!sodium.crypto_sign_verify_detached(stored.signature, checkpointMessage(stored), publicKey)) {
    throw new ApiError(status.DATA_LOSS, `the stored audit checkpoint of org "${stored.org}" fails its signature: it was altered`, { reason: 'AUDIT_CHECKPOINT_INVALID' });
  }
  return stored;
}

const checkpointMoved = (org: string) =>
  failedPrecondition(`the audit checkpoint of org "${org}" moved meanwhile (another replica anchored it); read it again`, 'AUDIT_CHECKPOINT_MOVED');

/** A request must start where the stored checkpoint is, or (the first) where the keyed chain starts. */
function checkStartsAtCheckpoint(req: CheckpointRequest, stored: StoredCheckpoint | undefined): void {
  if (stored) {
    if (req.fromSeq !== stored.seq || !equal(req.fromLink, stored.link)) {
      if (req.fromSeq < stored.seq) throw checkpointMoved(req.org);
      throw failedPrecondition(
        `the audit chain of org "${req.org}" does not extend its checkpoint at #${stored.seq} (link ${hex(stored.link)}); asked to continue from #${req.fromSeq}`,
        'AUDIT_CHAIN_DIVERGED',
      );
    }
    if (req.keyedFrom !== stored.keyedFrom) {
      throw failedPrecondition(`the audit chain of org "${req.org}" is keyed from #${stored.keyedFrom}, not #${req.keyedFrom}`, 'AUDIT_CHAIN_DIVERGED');
    }
    return;
  }
  // The first checkpoint: a chain keyed from its start begins at the genesis link; an older
  // chain at its last unkeyed event, whose hash is trusted from here on (docs/crypto.md).
  if (req.fromSeq !== req.keyedFrom - 1) {
    throw failedPrecondition(`the first audit checkpoint of org "${req.org}" starts at #${req.keyedFrom - 1} (before its first keyed event), not #${req.fromSeq}`, 'AUDIT_CHECKPOINT_MOVED');
  }
  if (req.fromSeq === 0 && !equal(req.fromLink, GENESIS_LINK)) {
    throw failedPrecondition(`the audit chain of org "${req.org}" starts at the genesis link (32 zero bytes)`, 'AUDIT_CHAIN_DIVERGED');
  }
}

function withKey<T>(key: Uint8Array, use: (key: Uint8Array) => T): T {
  try {
    return use(key);
  } finally {
    zero(key);
  }
}

function signingKeys<T>(auditKey: Uint8Array, use: (pair: { publicKey: Uint8Array; privateKey: Uint8Array }) => T): T {
  const seed = checkpointSeedOf(auditKey);
  const pair = sodium.crypto_sign_seed_keypair(seed);
  try {
    return use(pair);
  } finally {
    zero(seed);
    zero(pair.privateKey);
  }
}
