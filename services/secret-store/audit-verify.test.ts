import { expect } from 'chai';
import { auditHash, GENESIS_HASH, type AuditEvent, type StoredAuditEvent } from './audit.js';
import type { AuditHead } from './audit-store.js';
import { verifyAuditChain, type AuditCheckpoint, type SealCheck } from './audit-verify.js';

const ORG = 'acme';
const T0 = 1_790_000_000_000;

/**
 * A sound chain of n events with unkeyed (sha256) links, as chains were written before links
 * became keyed: the walk's logic is the same for both kinds, and these can be forged in a test.
 */
function chain(n: number): StoredAuditEvent[] {
  const events: StoredAuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const event: AuditEvent = {
      org: ORG,
      time: T0 + seq,
      actor: `user-${seq % 3}`,
      action: seq % 2 === 0 ? 'secret.value_rotated' : 'secret.created',
      secretName: `S${seq}`,
      secretUid: `s_${String(seq).padStart(8, '0')}`,
      secretVersion: seq,
      requestId: `req-${String(seq).padStart(8, '0')}`,
      details: { key: `K${seq}`, attempt: seq, sealed: true },
    };
    const hash = auditHash(prevHash, seq, event);
    events.push({ ...event, seq, prevHash, hash });
    prevHash = hash;
  }
  return events;
}

const headOf = (events: StoredAuditEvent[]): AuditHead => ({ seq: events.at(-1)!.seq, hash: events.at(-1)!.hash });

/** Yields the events one by one and records how many were pulled. */
function source(events: StoredAuditEvent[]) {
  const pulled = { count: 0, closed: false };
  const iterable: AsyncIterable<StoredAuditEvent> = {
    async *[Symbol.asyncIterator]() {
      try {
        for (const e of events) {
          pulled.count++;
          yield e;
        }
      } finally {
        pulled.closed = true;
      }
    },
  };
  return { iterable, pulled };
}

/** How unkeyed links are checked (keyed ones ask key-management; see audit-log.ts). */
const sha256Seal: SealCheck = async (e, seq, prevHash) => auditHash(prevHash, seq, e) === e.hash;

const verify = (events: StoredAuditEvent[], head: AuditHead | undefined, checkpoint?: AuditCheckpoint) =>
  verifyAuditChain(source(events).iterable, head, sha256Seal, checkpoint);

const INTACT = { intact: true, firstBadSeq: 0, problem: '', finding: 'intact', missingAfterSeq: 0 };

/** Re-seals an event at its position after `prevHash` (a forger who recomputes the hash). */
const resealed = (e: StoredAuditEvent, prevHash = e.prevHash): StoredAuditEvent => ({ ...e, prevHash, hash: auditHash(prevHash, e.seq, e) });

describe('verifyAuditChain', () => {
  it('finds a sound chain intact and counts its events', async () => {
    const events = chain(12);
    expect(await verify(events, headOf(events))).to.deep.equal({ ...INTACT, events: 12, checkpointSeq: 0, checkpointTime: undefined });
  });

  it('finds an org without events (and without a head) intact', async () => {
    expect(await verify([], undefined)).to.deep.equal({ ...INTACT, events: 0, checkpointSeq: 0, checkpointTime: undefined });
  });

  const cases: Array<{ name: string; tamper(events: StoredAuditEvent[]): { events: StoredAuditEvent[]; head?: AuditHead }; seq: number; problem: string }> = [
    {
      name: 'an altered field',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 7 ? { ...x, actor: 'mallory' } : x)) }),
      seq: 7,
      problem: 'event 7 was altered (its hash does not match its contents)',
    },
    {
      name: 'altered details',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 3 ? { ...x, details: { ...x.details, attempt: 99 } } : x)) }),
      seq: 3,
      problem: 'event 3 was altered (its hash does not match its contents)',
    },
    {
      name: 'a detail whose type changed (number to string)',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 4 ? { ...x, details: { ...x.details, attempt: '4' } } : x)) }),
      seq: 4,
      problem: 'event 4 was altered (its hash does not match its contents)',
    },
    {
      name: 'an altered hash column',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 5 ? { ...x, hash: 'f'.repeat(64) } : x)) }),
      seq: 5,
      problem: 'event 5 was altered (its hash does not match its contents)',
    },
    {
      name: 'an altered first event',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 1 ? { ...x, secretVersion: 42 } : x)) }),
      seq: 1,
      problem: 'event 1 was altered (its hash does not match its contents)',
    },
    {
      name: 'a removed middle event',
      tamper: (e) => ({ events: e.filter((x) => x.seq !== 5) }),
      seq: 5,
      problem: 'event 5 is missing (the chain jumps from 4 to 6)',
    },
    {
      name: 'several removed middle events',
      tamper: (e) => ({ events: e.filter((x) => x.seq < 5 || x.seq > 7) }),
      seq: 5,
      problem: 'events 5 to 7 are missing (the chain jumps from 4 to 8)',
    },
    {
      name: 'a removed first event',
      tamper: (e) => ({ events: e.slice(1) }),
      seq: 1,
      problem: 'event 1 is missing (the chain starts at 2)',
    },
    {
      name: 'a removed last event (only the head still knows it)',
      tamper: (e) => ({ events: e.slice(0, -1) }),
      seq: 12,
      problem: 'the last event (12) was removed: the chain ends at 11, the head records 12',
    },
    {
      name: 'removed last events',
      tamper: (e) => ({ events: e.slice(0, -3) }),
      seq: 10,
      problem: 'the last 3 events (10 to 12) were removed: the chain ends at 9, the head records 12',
    },
    {
      name: 'every event removed',
      tamper: () => ({ events: [] }),
      seq: 1,
      problem: 'the last 12 events (1 to 12) were removed: no event is left, the head records 12',
    },
    {
      name: 'two events whose seqs were swapped',
      tamper: (e) => ({
        events: e.map((x) => (x.seq === 3 ? { ...e[3], seq: 3 } : x.seq === 4 ? { ...e[2], seq: 4 } : x)),
      }),
      seq: 3,
      problem: 'events 3 and 4 are out of order',
    },
    {
      name: 'a changed prev_hash',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 6 ? { ...x, prevHash: e[1].hash } : x)) }),
      seq: 6,
      problem: 'event 6 does not follow event 5 (prev_hash mismatch)',
    },
    {
      name: 'a changed prev_hash of the first event',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 1 ? { ...x, prevHash: 'a'.repeat(64) } : x)) }),
      seq: 1,
      problem: 'event 1 does not start the chain (prev_hash is not the genesis hash)',
    },
    {
      name: 'an event rewritten with a recomputed hash (the next link notices)',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 8 ? resealed({ ...x, actor: 'mallory' }) : x)) }),
      seq: 8,
      problem: 'event 8 was altered (its hash was recomputed; event 9 records a different one)',
    },
    {
      name: 'the last event rewritten with a recomputed hash (the head notices)',
      tamper: (e) => ({ events: e.map((x) => (x.seq === 12 ? resealed({ ...x, actor: 'mallory' }) : x)) }),
      seq: 12,
      problem: 'event 12 was altered (the head records a different hash for it)',
    },
    {
      name: 'a missing head record',
      tamper: (e) => ({ events: e, head: undefined }),
      seq: 12,
      problem: 'the chain\'s head record is missing (the chain ends at 12)',
    },
    {
      name: 'events beyond the head',
      tamper: (e) => ({ events: e, head: { seq: 10, hash: e[9].hash } }),
      seq: 11,
      problem: 'event 11 is not recorded in the head: the head records 10',
    },
  ];

  for (const c of cases) {
    it(`names the first bad event: ${c.name}`, async () => {
      const sound = chain(12);
      const tampered = c.tamper(sound);
      const head = 'head' in tampered ? tampered.head : headOf(sound);
      const result = await verify(tampered.events, head);
      expect(result).to.include({ intact: false, firstBadSeq: c.seq, problem: c.problem });
    });
  }

  it('stops reading at the first break (and closes the source)', async () => {
    const events = chain(50);
    events[9] = { ...events[9], actor: 'mallory' };
    const { iterable, pulled } = source(events);
    const result = await verifyAuditChain(iterable, headOf(events), sha256Seal);
    expect(result).to.include({ intact: false, events: 10, firstBadSeq: 10, problem: 'event 10 was altered (its hash does not match its contents)', finding: 'altered' });
    expect(pulled.count).to.be.at.most(11);
    expect(pulled.closed).to.equal(true);
  });

  it('reads a long chain as a stream, one event at a time', async () => {
    const events = chain(3000);
    const { iterable, pulled } = source(events);
    expect(await verifyAuditChain(iterable, headOf(events), sha256Seal)).to.include({ intact: true, events: 3000 });
    expect(pulled.count).to.equal(3000);
  });

  describe('against a signed checkpoint (kept outside the database)', () => {
    const T = Date.UTC(2026, 11, 5, 9, 0, 0);
    const checkpointAt = (events: StoredAuditEvent[], seq: number): AuditCheckpoint => ({ seq, link: events[seq - 1].hash, keyedFrom: 1, time: T });
    /** A forger with write access who rewrites event `from` and recomputes every later hash and the head. */
    function rebuiltFrom(events: StoredAuditEvent[], from: number): StoredAuditEvent[] {
      const out = events.slice(0, from - 1);
      let prevHash = out.at(-1)?.hash ?? GENESIS_HASH;
      for (const e of events.slice(from - 1)) {
        const changed = e.seq === from ? { ...e, actor: 'mallory' } : e;
        const resealedEvent = { ...changed, prevHash, hash: auditHash(prevHash, changed.seq, changed) };
        out.push(resealedEvent);
        prevHash = resealedEvent.hash;
      }
      return out;
    }

    const cases: Array<{ name: string; tamper(e: StoredAuditEvent[]): { events: StoredAuditEvent[]; head: AuditHead }; want: Record<string, unknown> }> = [
      {
        name: 'a cut tail with the head moved back to match (a rolled-back head)',
        tamper: (e) => ({ events: e.slice(0, 9), head: headOf(e.slice(0, 9)) }),
        want: { finding: 'tail_missing', missingAfterSeq: 9, firstBadSeq: 10, problem: 'events after 9 are missing: the chain ends at 9, its signed checkpoint of 2026-12-05T09:00:00.000Z records 12' },
      },
      {
        name: 'every event removed, and the head too',
        tamper: () => ({ events: [], head: { seq: 0, hash: GENESIS_HASH } }),
        want: { finding: 'tail_missing', missingAfterSeq: 0, firstBadSeq: 1 },
      },
      {
        name: 'a chain recomputed from an edited event on (hashes and head consistent)',
        tamper: (e) => {
          const rebuilt = rebuiltFrom(e, 5);
          return { events: rebuilt, head: headOf(rebuilt) };
        },
        want: { finding: 'altered', firstBadSeq: 12, problem: 'event 12 was altered (its link is not the one its signed checkpoint of 2026-12-05T09:00:00.000Z records 12: the chain up to it was rewritten)' },
      },
    ];
    for (const c of cases) {
      it(`names ${c.name}`, async () => {
        const sound = chain(12);
        const tampered = c.tamper(sound);
        expect(await verify(tampered.events, tampered.head)).to.include({ intact: true }, 'without the checkpoint, the forgery passes');
        expect(await verify(tampered.events, tampered.head, checkpointAt(sound, 12))).to.include({ intact: false, checkpointSeq: 12, ...c.want });
      });
    }

    it('finds a chain that grew past its checkpoint intact, and says where it was anchored', async () => {
      const events = chain(12);
      expect(await verify(events, headOf(events), checkpointAt(events, 8))).to.deep.equal({ ...INTACT, events: 12, checkpointSeq: 8, checkpointTime: T });
    });
  });
});
