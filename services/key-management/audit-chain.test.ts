import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { auditLink, chainKeyOf, checkpointMessage, GENESIS_LINK } from '../runtime/audit-link.js';
import { ApiError } from '../runtime/errors.js';
import { AuditChainKeys, type CheckpointRequest } from './audit-chain.js';
import type { AuditCheckpointStore, StoredCheckpoint } from './audit-checkpoint-store.js';

const ORG = 'acme';
const AUDIT_KEY = new Uint8Array(32).fill(9);
const T = 1_790_000_000_000;

/** One stored checkpoint per org, moved only from where the caller saw it (as the knex store). */
function memoryStore(): AuditCheckpointStore & { rows: Map<string, StoredCheckpoint> } {
  const rows = new Map<string, StoredCheckpoint>();
  return {
    rows,
    async checkpoint(org) {
      return rows.get(org);
    },
    async advance(next, fromSeq) {
      if (rows.get(next.org)?.seq !== fromSeq) return false;
      rows.set(next.org, next);
      return true;
    },
  };
}

/** A chain of n events as secret-store would hold it: digests and links under the test key. */
function chain(n: number, from: Uint8Array = GENESIS_LINK) {
  const key = chainKeyOf(AUDIT_KEY);
  const events: { seq: number; digest: Uint8Array; link: Uint8Array }[] = [];
  let prev: Uint8Array = from;
  for (let seq = 1; seq <= n; seq++) {
    const digest = new Uint8Array(randomBytes(32));
    prev = auditLink(key, prev, seq, digest);
    events.push({ seq, digest, link: prev });
  }
  return events;
}

const request = (events: ReturnType<typeof chain>, fromSeq: number, overrides: Partial<CheckpointRequest> = {}): CheckpointRequest => ({
  org: ORG,
  fromSeq,
  fromLink: fromSeq === 0 ? GENESIS_LINK : events[fromSeq - 1].link,
  keyedFrom: 1,
  events: events.slice(fromSeq).map(({ seq, digest }) => ({ seq, digest })),
  link: events[events.length - 1].link,
  ...overrides,
});

async function reasonOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err.reason;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('AuditChainKeys (key-management)', () => {
  let store: ReturnType<typeof memoryStore>;
  let keys: AuditChainKeys;

  before(async () => {
    await sodium.ready;
  });
  beforeEach(() => {
    store = memoryStore();
    keys = new AuditChainKeys({ withAuditKey: async (_org, use) => use(Uint8Array.from(AUDIT_KEY)) }, store, () => T);
  });

  it('signs a first checkpoint and then only checkpoints that extend it', async () => {
    const events = chain(5);
    const first = await keys.record(request(events.slice(0, 3), 0));
    expect(first).to.include({ org: ORG, seq: 3, keyedFrom: 1, time: T });
    const second = await keys.record(request(events, 3));
    expect(second.seq).to.equal(5);
    const read = await keys.checkpoint(ORG);
    expect(Buffer.from(read!.link).equals(Buffer.from(events[4].link))).to.equal(true);
    expect(sodium.crypto_sign_verify_detached(read!.signature, checkpointMessage(read!), read!.publicKey)).to.equal(true);
  });

  const refusals: Array<{ name: string; reason: string; req(events: ReturnType<typeof chain>): CheckpointRequest }> = [
    { name: 'events that do not give the link held (an altered event)', reason: 'AUDIT_CHAIN_DIVERGED', req: (e) => request(e, 3, { events: [{ seq: 4, digest: new Uint8Array(32) }, { seq: 5, digest: e[4].digest }] }) },
    { name: 'a chain continued from another link at the checkpoint (a rewritten chain)', reason: 'AUDIT_CHAIN_DIVERGED', req: (e) => request(e, 3, { fromLink: new Uint8Array(32).fill(1) }) },
    { name: 'a chain that claims to continue past the checkpoint (a cut tail)', reason: 'AUDIT_CHAIN_DIVERGED', req: (e) => request(e, 4) },
    { name: 'another keyed_from', reason: 'AUDIT_CHAIN_DIVERGED', req: (e) => request(e, 3, { keyedFrom: 2 }) },
    { name: 'a start behind the checkpoint (another replica moved it)', reason: 'AUDIT_CHECKPOINT_MOVED', req: (e) => request(e, 2) },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} and keeps the checkpoint`, async () => {
      const events = chain(5);
      await keys.record(request(events.slice(0, 3), 0));
      expect(await reasonOf(keys.record(c.req(events)))).to.equal(c.reason);
      expect((await keys.checkpoint(ORG))!.seq).to.equal(3);
    });
  }

  it('refuses a stored checkpoint whose row was edited (DATA_LOSS)', async () => {
    const events = chain(3);
    await keys.record(request(events, 0));
    store.rows.set(ORG, { ...store.rows.get(ORG)!, seq: 2, link: events[1].link });
    try {
      await keys.checkpoint(ORG);
      expect.fail('an edited checkpoint was trusted');
    } catch (err) {
      expect(err).to.be.instanceOf(ApiError);
      expect((err as ApiError).code).to.equal(status.DATA_LOSS);
    }
  });

  it('lets only one of two replicas move the checkpoint from the same place', async () => {
    const events = chain(4);
    await keys.record(request(events.slice(0, 2), 0));
    const results = await Promise.allSettled([keys.record(request(events.slice(0, 3), 2)), keys.record(request(events, 2))]);
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
  });
});
