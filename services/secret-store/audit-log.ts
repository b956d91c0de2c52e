import type { KeyManagementAction, StoredAuditEvent } from './audit.js';
import type { AuditFilter, AuditStore } from './audit-store.js';
import { verifyAuditChain, type AuditVerification } from './audit-verify.js';

/** Events read per query while verifying: a long chain is walked, never loaded whole. */
const VERIFY_PAGE_SIZE = 500;

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
}

/** An event that happened in key-management, recorded in the org's chain. */
export interface ExternalAuditEvent {
  org: string;
  actor: string;
  action: KeyManagementAction;
  requestId: string;
  details: Record<string, string>;
}

/** The audit log's logic over its store: listing, verification and recording. */
export class AuditLog {
  constructor(
    private readonly store: AuditStore,
    private readonly now: () => number = Date.now,
    private readonly verifyPageSize = VERIFY_PAGE_SIZE,
  ) {}

  async list(query: AuditListQuery): Promise<AuditPage> {
    // One extra event tells whether another page follows.
    const events = await this.store.page({ ...query, limit: query.limit + 1 });
    if (events.length <= query.limit) return { events };
    const page = events.slice(0, query.limit);
    return { events: page, next: page[page.length - 1].seq };
  }

  /**
   * Verifies the chain up to the head read first: events appended while the walk runs lie
   * beyond it and are left for the next verification instead of looking like a broken head.
   */
  async verify(org: string): Promise<AuditVerification> {
    const head = await this.store.head(org);
    return verifyAuditChain(this.walk(org, head?.seq), head);
  }

  /** The org's events in seq order, page by page. */
  private async *walk(org: string, upToSeq: number | undefined): AsyncGenerator<StoredAuditEvent> {
    let afterSeq = 0;
    for (;;) {
      const page = await this.store.page({ org, afterSeq, upToSeq, limit: this.verifyPageSize });
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
