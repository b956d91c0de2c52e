import { timingSafeEqual } from 'node:crypto';
import type { AuditLinker } from '../runtime/audit-link.js';
import { auditDigest, auditHash, linkBytes, linkHex, type JobLauncherAction, type KeyManagementAction, type StoredAuditEvent } from './audit.js';
import type { AuditFilter, AuditStore } from './audit-store.js';
import { verifyAuditChain, type AuditCheckpoint, type AuditVerification, type SealCheck } from './audit-verify.js';

/** Events read per query while verifying: a long chain is walked, never loaded whole. */
const VERIFY_PAGE_SIZE = 500;
const LINK_PATTERN = /^[0-9a-f]{64}$/;

export interface AuditListQuery extends AuditFilter {
  org: string;
  limit: number;
  /** Events after this seq (a page token's position, or where a follower left off). */
  afterSeq: number;
  /** Newest first, each page continuing below `beforeSeq` (a page token's position). */
  newestFirst?: boolean;
  beforeSeq?: number;
}

export interface AuditPage {
  events: StoredAuditEvent[];
  /** The seq to continue from (after it, or below it newest first) when more events may follow. */
  next?: number;
  /** The chain's first keyed event (undefined: none yet). */
  keyedFrom?: number;
}

/** An event that happened in another service (key-management, the job launcher), recorded in a chain. */
export interface ExternalAuditEvent {
  org: string;
  actor: string;
  action: KeyManagementAction | JobLauncherAction | 'call.denied';
  requestId: string;
  details: Record<string, string>;
}

/** Where checkpoints come from: key-management, through the checkpointer. */
export interface CheckpointSource {
  /** Anchors what this replica appended (errors are the checkpointer's to log). */
  anchor(org: string): Promise<void>;
  latest(org: string): Promise<AuditCheckpoint | undefined>;
}

const sameHex = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Checks events' links while a chain is walked: unkeyed events (before keyedFrom) by their
 * sha256, keyed ones by the MAC key-management computes, a page per call (`prefetch`).
 */
class LinkCheck {
  private readonly expected = new Map<string, string>();

  constructor(
    private readonly org: string,
    private readonly keyedFrom: number | undefined,
    private readonly link: AuditLinker,
  ) {}

  private keyed = (seq: number) => this.keyedFrom !== undefined && seq >= this.keyedFrom;
  private keyOf = (e: StoredAuditEvent, seq: number, prevHash: string) => `${seq}|${prevHash}|${linkHex(auditDigest(seq, e))}`;

  async prefetch(page: StoredAuditEvent[]): Promise<void> {
    const keyed = page.filter((e) => this.keyed(e.seq) && LINK_PATTERN.test(e.prevHash));
    if (keyed.length === 0) return;
    const links = await this.link(
      this.org,
      keyed.map((e) => ({ seq: e.seq, digest: auditDigest(e.seq, e), prevLink: linkBytes(e.prevHash) })),
    );
    keyed.forEach((e, i) => this.expected.set(this.keyOf(e, e.seq, e.prevHash), linkHex(links[i])));
  }

  readonly sealedAt: SealCheck = async (e, seq, prevHash) => {
    if (!this.keyed(seq)) return auditHash(prevHash, seq, e) === e.hash;
    if (!LINK_PATTERN.test(prevHash)) return false;
    const key = this.keyOf(e, seq, prevHash);
    let expected = this.expected.get(key);
    if (expected === undefined) {
      // Off the walk's path (two swapped events): one call for this one.
      const [link] = await this.link(this.org, [{ seq, digest: auditDigest(seq, e), prevLink: linkBytes(prevHash) }]);
      expected = linkHex(link);
    }
    return sameHex(expected, e.hash);
  };
}

/** The audit log's logic over its store: listing, verification and recording. */
export class AuditLog {
  constructor(
    private readonly store: AuditStore,
    private readonly link: AuditLinker,
    private readonly checkpoints: CheckpointSource,
    private readonly now: () => number = Date.now,
    private readonly verifyPageSize = VERIFY_PAGE_SIZE,
  ) {}

  async list(query: AuditListQuery): Promise<AuditPage> {
    // One extra event tells whether another page follows.
    const [events, head] = await Promise.all([this.store.page({ ...query, limit: query.limit + 1 }), this.store.head(query.org)]);
    const keyedFrom = head?.keyedFrom;
    if (events.length <= query.limit) return { events, keyedFrom };
    const page = events.slice(0, query.limit);
    return { events: page, next: page[page.length - 1].seq, keyedFrom };
  }

  /**
   * Verifies the chain against its latest signed checkpoint (read first, after anchoring
   * what this replica appended) and up to the head read next: events appended while the walk
   * runs lie beyond both and are left for the next verification. The checkpoint says where
   * keyed links start; the head row, in this database, only when there is none yet.
   */
  async verify(org: string): Promise<AuditVerification> {
    await this.checkpoints.anchor(org).catch(() => {});
    const checkpoint = await this.checkpoints.latest(org);
    const head = await this.store.head(org);
    const upToSeq = head || checkpoint ? Math.max(head?.seq ?? 0, checkpoint?.seq ?? 0) : undefined;
    const links = new LinkCheck(org, checkpoint?.keyedFrom ?? head?.keyedFrom, this.link);
    return verifyAuditChain(this.walk(org, upToSeq, links), head, links.sealedAt, checkpoint);
  }

  /** The org's events in seq order, page by page, their links fetched a page at a time. */
  private async *walk(org: string, upToSeq: number | undefined, links: LinkCheck): AsyncGenerator<StoredAuditEvent> {
    let afterSeq = 0;
    for (;;) {
      const page = await this.store.page({ org, afterSeq, upToSeq, limit: this.verifyPageSize });
      await links.prefetch(page);
      yield* page;
      if (page.length < this.verifyPageSize) return;
      afterSeq = page[page.length - 1].seq;
    }
  }

  async record(event: ExternalAuditEvent): Promise<StoredAuditEvent> {
    const [stored] = await this.store.append([{ ...event, time: this.now() }]);
    return stored;
  }
}
