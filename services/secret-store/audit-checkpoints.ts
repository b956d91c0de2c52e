import type { AuditCheckpoint as CheckpointMessage, KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import { decodeServiceError, isServiceError } from '../runtime/errors.js';
import type { ServiceClient } from '../runtime/grpc-client.js';
import type { Logger } from '../runtime/logger.js';
import { auditDigest, GENESIS_HASH, linkBytes, linkHex } from './audit.js';
import type { AuditStore } from './audit-store.js';
import type { AuditCheckpoint } from './audit-verify.js';

export type CheckpointClient = Pick<ServiceClient<typeof KeyManagementServiceService>, 'recordAuditCheckpoint' | 'getAuditCheckpoint'>;

export interface CheckpointPolicy {
  /** Anchor an org's chain once this many events were appended since its last anchor... */
  everyEvents: number;
  /** ...and at the latest this long after an append. */
  everyMs: number;
}

export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = { everyEvents: 100, everyMs: 1000 };
/** Events per RecordAuditCheckpoint call (key-management's limit). */
const EVENTS_PER_CHECKPOINT = 1000;
/** Tries when another replica moves the checkpoint while this one anchors. */
const MOVED_RETRIES = 3;

function toCheckpoint(m: CheckpointMessage): AuditCheckpoint | undefined {
  if (m.seq === 0) return undefined;
  return { seq: m.seq, link: linkHex(m.link), keyedFrom: m.keyedFrom, time: m.time?.getTime() ?? 0 };
}

const reasonOf = (err: unknown) => (isServiceError(err) ? decodeServiceError(err).reason : undefined);

/**
 * Anchors each org's audit chain in key-management after appends commit: every
 * `everyEvents` events or `everyMs` after an append, whichever comes first, it sends the
 * digests of the events since the stored checkpoint, and key-management signs a new one if
 * they extend it. Appends never wait for it (no round trip per append); verification anchors
 * first, so what this replica appended is checked against a checkpoint. A refusal means the
 * chain no longer extends its checkpoint (it was cut or rewritten) and is logged as an error;
 * verification then names the break.
 */
export class AuditCheckpointer {
  private readonly pending = new Map<string, number>();
  private readonly running = new Map<string, Promise<void>>();
  /** The checkpoint this replica last recorded, by org: the next anchoring starts there without asking. */
  private readonly recorded = new Map<string, AuditCheckpoint>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly kms: CheckpointClient,
    private readonly store: Pick<AuditStore, 'head' | 'page'>,
    private readonly log: Pick<Logger, 'error' | 'warn'>,
    private readonly policy: CheckpointPolicy = DEFAULT_CHECKPOINT_POLICY,
  ) {}

  /** Told of every committed append. */
  appended(org: string, events: number): void {
    const count = (this.pending.get(org) ?? 0) + events;
    this.pending.set(org, count);
    if (count >= this.policy.everyEvents) {
      void this.anchorLogged(org);
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      for (const o of [...this.pending.keys()]) void this.anchorLogged(o);
    }, this.policy.everyMs).unref();
  }

  /** The org's latest signed checkpoint; undefined when there is none. */
  async latest(org: string): Promise<AuditCheckpoint | undefined> {
    return toCheckpoint(await this.kms.getAuditCheckpoint({ org }));
  }

  /** Anchors the org's chain up to its current head (one anchoring per org at a time). */
  anchor(org: string): Promise<void> {
    const next = (this.running.get(org) ?? Promise.resolve()).then(() => this.anchorNow(org));
    const settled = next.catch(() => {});
    this.running.set(org, settled);
    void settled.then(() => {
      if (this.running.get(org) === settled) this.running.delete(org);
    });
    return next;
  }

  /** Anchors whatever is pending and stops the timer (shutdown). */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([...this.pending.keys()].map((org) => this.anchorLogged(org)));
  }

  private anchorLogged(org: string): Promise<void> {
    return this.anchor(org).catch((err: unknown) => {
      const reason = reasonOf(err);
      const fields = { org, reason, err: err instanceof Error ? err.message : String(err) };
      // A chain that no longer extends its checkpoint is evidence of tampering; anything else
      // (key-management unreachable) is retried with the next append or verification.
      if (reason === 'AUDIT_CHAIN_DIVERGED') this.log.error(fields, 'audit checkpoint refused: the chain no longer extends its signed checkpoint (cut or rewritten); run audit verify');
      else this.log.warn(fields, 'audit checkpoint not recorded yet; retried with the next append or verification');
    });
  }

  private async anchorNow(org: string): Promise<void> {
    this.pending.delete(org);
    const head = await this.store.head(org);
    // An older chain not appended to since links became keyed has nothing to anchor.
    if (!head || head.keyedFrom === undefined) return;
    const tip = { seq: head.seq, keyedFrom: head.keyedFrom };
    // The checkpoint this replica recorded last is where the chain goes on from, unless another
    // replica (or anything else) moved it: key-management then refuses the request, and the
    // stored checkpoint is read as if nothing had been remembered.
    const remembered = this.recorded.get(org);
    if (remembered) {
      try {
        await this.extend(org, tip, remembered);
        return;
      } catch {
        this.recorded.delete(org);
      }
    }
    await this.extend(org, tip, await this.latest(org));
  }

  /** Records checkpoints from `checkpoint` until the chain's head is anchored. */
  private async extend(org: string, head: { seq: number; keyedFrom: number }, from: AuditCheckpoint | undefined): Promise<void> {
    let checkpoint = from;
    let retries = 0;
    while ((checkpoint?.seq ?? 0) < head.seq) {
      const fromSeq = checkpoint?.seq ?? head.keyedFrom - 1;
      const events = await this.store.page({ org, afterSeq: fromSeq, upToSeq: head.seq, limit: EVENTS_PER_CHECKPOINT });
      if (events.length === 0) throw new Error(`the chain of org "${org}" has no events after ${fromSeq} although its head records ${head.seq}`);
      // The first checkpoint of an older chain starts from its last unkeyed event's hash.
      const fromLink = checkpoint?.link ?? (fromSeq === 0 ? GENESIS_HASH : events[0].prevHash);
      try {
        const recorded = await this.kms.recordAuditCheckpoint({
          org,
          fromSeq,
          fromLink: Buffer.from(linkBytes(fromLink)),
          keyedFrom: checkpoint?.keyedFrom ?? head.keyedFrom,
          events: events.map((e) => ({ seq: e.seq, digest: Buffer.from(auditDigest(e.seq, e)) })),
          link: Buffer.from(linkBytes(events[events.length - 1].hash)),
        });
        checkpoint = toCheckpoint(recorded);
        if (checkpoint) this.recorded.set(org, checkpoint);
      } catch (err) {
        if (reasonOf(err) !== 'AUDIT_CHECKPOINT_MOVED' || ++retries > MOVED_RETRIES) throw err;
        checkpoint = await this.latest(org);
      }
    }
  }
}
