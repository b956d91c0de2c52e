import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import type { RecordAuditCheckpointRequest } from '../gen/vessl/kms/v1/kms.js';
import { decodeServiceError, toServiceError } from '../runtime/errors.js';
import { AuditChainKeys } from '../key-management/audit-chain.js';
import { toCheckpointMessage } from '../key-management/audit-chain-handlers.js';
import type { AuditCheckpointStore, StoredCheckpoint } from '../key-management/audit-checkpoint-store.js';
import { TEST_AUDIT_KEY, testLinker } from '../../test/support/audit-chain.js';
import { auditDigest, GENESIS_HASH, linkBytes, linkHex, type AuditEvent, type StoredAuditEvent } from './audit.js';
import { AuditCheckpointer, type CheckpointClient } from './audit-checkpoints.js';
import type { AuditHead, AuditStore } from './audit-store.js';

const ORG = 'acme';

/** key-management's checkpoint logic behind the client interface, as errors travel over gRPC. */
function keyManagement(): CheckpointClient & { stored: Map<string, StoredCheckpoint>; calls: number; reads: number } {
  const stored = new Map<string, StoredCheckpoint>();
  const store: AuditCheckpointStore = {
    async checkpoint(org) {
      return stored.get(org);
    },
    async advance(next, fromSeq) {
      if (stored.get(next.org)?.seq !== fromSeq) return false;
      stored.set(next.org, next);
      return true;
    },
  };
  const keys = new AuditChainKeys({ withAuditKey: async (_org, use) => use(Uint8Array.from(TEST_AUDIT_KEY)) }, store);
  const asGrpc = <T>(p: Promise<T>) => p.catch((err: unknown) => Promise.reject(toServiceError(err)));
  const client = {
    stored,
    calls: 0,
    reads: 0,
    getAuditCheckpoint: async (req: { org: string }) => {
      client.reads++;
      return toCheckpointMessage(await asGrpc(keys.checkpoint(req.org)));
    },
    recordAuditCheckpoint: async (req: RecordAuditCheckpointRequest) => {
      client.calls++;
      return toCheckpointMessage(await asGrpc(keys.record(req)));
    },
  };
  return client as unknown as CheckpointClient & { stored: Map<string, StoredCheckpoint>; calls: number; reads: number };
}

/** One org's chain in memory, keyed from its start, linked under the test key. */
async function memoryChain(n: number) {
  const link = await testLinker();
  const events: StoredAuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e: AuditEvent = { org: ORG, time: seq, actor: 'ada', action: 'secret.created', requestId: `req-${seq}-abcdefgh`, details: {} };
    const [l] = await link(ORG, [{ seq, digest: auditDigest(seq, e), prevLink: linkBytes(prevHash) }]);
    events.push({ ...e, seq, prevHash, hash: linkHex(l) });
    prevHash = linkHex(l);
  }
  const store: Pick<AuditStore, 'head' | 'page'> = {
    async head(): Promise<AuditHead> {
      return { seq: events.length, hash: events.at(-1)!.hash, keyedFrom: 1 };
    },
    async page(q) {
      return events.filter((e) => e.seq > q.afterSeq && (q.upToSeq === undefined || e.seq <= q.upToSeq)).slice(0, q.limit);
    },
  };
  return { events, store };
}

const quiet = { error: () => {}, warn: () => {} };

/** The signed checkpoint of the test chain at `seq`, as key-management would have stored it. */
async function checkpointAt(seq: number): Promise<StoredCheckpoint> {
  const kms = keyManagement();
  await new AuditCheckpointer(kms, (await memoryChain(seq)).store, quiet).anchor(ORG);
  return kms.stored.get(ORG)!;
}

describe('AuditCheckpointer', () => {
  before(async () => {
    await sodium.ready;
  });

  it('anchors at once when an org reaches the event threshold', async () => {
    const kms = keyManagement();
    const { store } = await memoryChain(5);
    const anchoring = new AuditCheckpointer(kms, store, quiet, { everyEvents: 5, everyMs: 3_600_000 });
    anchoring.appended(ORG, 4);
    expect(kms.calls).to.equal(0);
    anchoring.appended(ORG, 1);
    await anchoring.anchor(ORG); // queued behind the anchoring the threshold started
    expect(kms.stored.get(ORG)?.seq).to.equal(5);
    await anchoring.close();
  });

  it('lets two replicas anchor one chain at once: both end at its head, no error', async () => {
    const kms = keyManagement();
    const { store } = await memoryChain(30);
    const errors: unknown[] = [];
    const log = { error: (o: unknown) => errors.push(o), warn: (o: unknown) => errors.push(o) };
    const a = new AuditCheckpointer(kms, store, log);
    const b = new AuditCheckpointer(kms, store, log);
    await Promise.all([a.anchor(ORG), b.anchor(ORG), a.anchor(ORG)]);
    expect(kms.stored.get(ORG)?.seq).to.equal(30);
    expect(errors).to.deep.equal([]);
  });

  it('anchors a long chain in calls of at most 1000 events', async () => {
    const kms = keyManagement();
    const { store } = await memoryChain(2300);
    await new AuditCheckpointer(kms, store, quiet).anchor(ORG);
    expect(kms.stored.get(ORG)?.seq).to.equal(2300);
    expect(kms.calls).to.equal(3);
  });

  it('refuses to anchor a chain altered after its checkpoint (AUDIT_CHAIN_DIVERGED), keeping the checkpoint', async () => {
    const kms = keyManagement();
    const { store, events } = await memoryChain(6);
    const anchoring = new AuditCheckpointer(kms, store, quiet);
    events.splice(3); // anchored at 3 first
    await anchoring.anchor(ORG);
    const more = await memoryChain(6);
    events.push(...more.events.slice(3).map((e, i) => (i === 1 ? { ...e, actor: 'mallory' } : e)));
    const failure = await anchoring.anchor(ORG).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(decodeServiceError(failure as never).reason).to.equal('AUDIT_CHAIN_DIVERGED');
    expect(kms.stored.get(ORG)?.seq).to.equal(3);
  });

  it('goes on from the checkpoint it recorded last without reading it back, one call per anchoring', async () => {
    const kms = keyManagement();
    const { store, events } = await memoryChain(9);
    const anchoring = new AuditCheckpointer(kms, store, quiet);
    events.splice(3);
    await anchoring.anchor(ORG);
    expect([kms.reads, kms.calls]).to.deep.equal([1, 1]);
    events.push(...(await memoryChain(9)).events.slice(3));
    await anchoring.anchor(ORG);
    expect([kms.reads, kms.calls]).to.deep.equal([1, 2]);
    expect(kms.stored.get(ORG)?.seq).to.equal(9);
  });

  it('reads the stored checkpoint again when it is not the one remembered (another replica moved it, or it was rolled back)', async () => {
    const kms = keyManagement();
    const { store, events } = await memoryChain(12);
    const full = [...events];
    const a = new AuditCheckpointer(kms, store, quiet);
    const b = new AuditCheckpointer(kms, store, quiet);
    events.splice(3);
    await a.anchor(ORG); // a remembers #3
    events.push(...full.slice(3, 6));
    await b.anchor(ORG); // b moves it to #6
    events.push(...full.slice(6, 9));
    await a.anchor(ORG);
    expect(kms.stored.get(ORG)?.seq).to.equal(9);
    // key-management's checkpoint rolled back to #6 (a restored database): a's memory (#9) is refused, the stored one is read.
    kms.stored.set(ORG, await checkpointAt(6));
    events.push(...full.slice(9));
    await a.anchor(ORG);
    expect(kms.stored.get(ORG)?.seq).to.equal(12);
  });
});
