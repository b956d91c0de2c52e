import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { auditLink, chainKeyOf, localLinker, type AuditLinker } from '../../services/runtime/audit-link.js';
import { AuditChain, auditDigest, GENESIS_HASH, linkBytes, linkHex, type StoredAuditEvent } from '../../services/secret-store/audit.js';

/**
 * Keyed audit links in tests that run secret-store's storage without key-management: the
 * same link arithmetic (services/runtime/audit-link.ts) under a fixed test audit key.
 */
export const TEST_AUDIT_KEY = new Uint8Array(32).fill(7);

export async function testChainKey(): Promise<Uint8Array> {
  await sodium.ready;
  return chainKeyOf(TEST_AUDIT_KEY);
}

export async function testLinker(): Promise<AuditLinker> {
  const key = await testChainKey();
  return localLinker(() => key);
}

export async function testAuditChain(appended?: (org: string, n: number) => void): Promise<AuditChain> {
  return new AuditChain(await testLinker(), appended);
}

/** The link an event should carry after its recorded prev hash, under the test key. */
export async function expectedLink(e: StoredAuditEvent): Promise<string> {
  return linkHex(auditLink(await testChainKey(), linkBytes(e.prevHash), e.seq, auditDigest(e.seq, e)));
}

/** Each event follows the one before (seq 1..N from the genesis hash) and carries the keyed link of its contents there. */
export async function expectUnbrokenChain(events: StoredAuditEvent[]): Promise<void> {
  let prev = GENESIS_HASH;
  for (const [i, e] of events.entries()) {
    expect(e.seq, `seq of event ${i}`).to.equal(i + 1);
    expect(e.prevHash, `prevHash of seq ${e.seq}`).to.equal(prev);
    expect(e.hash, `link of seq ${e.seq}`).to.equal(await expectedLink(e));
    prev = e.hash;
  }
}
