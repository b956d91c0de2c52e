import { expect } from 'chai';
import { auditHash, GENESIS_HASH, type AuditEvent, type StoredAuditEvent } from './audit.js';
import { testLinker } from '../../test/support/audit-chain.js';
import { AuditLog, type CheckpointSource } from './audit-log.js';
import type { AuditHead, AuditPageQuery, AuditStore } from './audit-store.js';

const ORG = 'acme';

/** An in-memory AuditStore that appends (unkeyed links: the walk is what is tested) and records the pages asked for. */
function memoryStore() {
  const events: StoredAuditEvent[] = [];
  const pages: AuditPageQuery[] = [];
  let head: AuditHead | undefined;
  const store: AuditStore = {
    async page(q) {
      pages.push(q);
      return events
        .filter((e) => e.org === q.org && e.seq > q.afterSeq && (q.upToSeq === undefined || e.seq <= q.upToSeq))
        .filter((e) => (q.action === undefined || e.action === q.action) && (q.actor === undefined || e.actor === q.actor))
        .filter((e) => q.secretName === undefined || e.secretName === q.secretName)
        .slice(0, q.limit);
    },
    async head() {
      return head;
    },
    async append(list) {
      return list.map((e: AuditEvent) => {
        const seq = (head?.seq ?? 0) + 1;
        const prevHash = head?.hash ?? GENESIS_HASH;
        const stored = { ...e, seq, prevHash, hash: auditHash(prevHash, seq, e) };
        events.push(stored);
        head = { seq, hash: stored.hash };
        return stored;
      });
    },
  };
  return { store, events, pages };
}

/** No checkpoint yet (anchoring does nothing). */
const noCheckpoints: CheckpointSource = { anchor: async () => {}, latest: async () => undefined };

const rotated = (n: number) => ({ org: ORG, actor: 'svc:key-management', action: 'org_key.rotated' as const, requestId: `req-${n}-abcdefgh`, details: { key_id: `k${n}` } });

describe('AuditLog', () => {
  it('records an event from another service at the end of the chain, stamped with its clock', async () => {
    const { store } = memoryStore();
    const log = new AuditLog(store, await testLinker(), noCheckpoints, () => 1_790_000_000_000);
    const first = await log.record(rotated(1));
    const second = await log.record(rotated(2));
    expect(first).to.include({ seq: 1, prevHash: GENESIS_HASH, time: 1_790_000_000_000, action: 'org_key.rotated' });
    expect(second).to.include({ seq: 2, prevHash: first.hash });
  });

  it('pages a listing: the next position is the last seq, and only when more follow', async () => {
    const { store } = memoryStore();
    const log = new AuditLog(store, await testLinker(), noCheckpoints);
    for (let i = 1; i <= 5; i++) await log.record(rotated(i));
    const first = await log.list({ org: ORG, limit: 2, afterSeq: 0 });
    expect(first.events.map((e) => e.seq)).to.deep.equal([1, 2]);
    expect(first.next).to.equal(2);
    const last = await log.list({ org: ORG, limit: 3, afterSeq: 2 });
    expect(last.events.map((e) => e.seq)).to.deep.equal([3, 4, 5]);
    expect(last.next).to.equal(undefined);
  });

  it('verifies in pages, up to the head read before the walk', async () => {
    const { store, pages } = memoryStore();
    const log = new AuditLog(store, await testLinker(), noCheckpoints, Date.now, 4);
    for (let i = 1; i <= 10; i++) await log.record(rotated(i));
    expect(await log.verify(ORG)).to.include({ intact: true, events: 10, firstBadSeq: 0, problem: '' });
    expect(pages.map((p) => [p.afterSeq, p.upToSeq, p.limit])).to.deep.equal([
      [0, 10, 4],
      [4, 10, 4],
      [8, 10, 4],
    ]);
  });
});
