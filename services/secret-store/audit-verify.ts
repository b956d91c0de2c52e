import { auditHash, GENESIS_HASH, type StoredAuditEvent } from './audit.js';
import type { AuditHead } from './audit-store.js';

/** The outcome of walking an org's chain (VerifyAuditLogResponse, before mapping). */
export interface AuditVerification {
  intact: boolean;
  /** Events checked: all of them when intact, up to and including the first bad one otherwise. */
  events: number;
  /** The first broken position; 0 when intact. */
  firstBadSeq: number;
  /** What is wrong there, in words; '' when intact. */
  problem: string;
}

interface Break {
  seq: number;
  problem: string;
}

/** True when the event's recorded hash is what its stored fields hash to at `seq` after `prevHash`. */
const hashesAt = (e: StoredAuditEvent, seq: number, prevHash: string) => auditHash(prevHash, seq, e) === e.hash;

function missing(expected: number, found: number): Break {
  const which = found - expected === 1 ? `event ${expected} is missing` : `events ${expected} to ${found - 1} are missing`;
  const where = expected === 1 ? `the chain starts at ${found}` : `the chain jumps from ${expected - 1} to ${found}`;
  return { seq: expected, problem: `${which} (${where})` };
}

/**
 * What is wrong with `e`, found where event `seq` should be, after a chain ending in
 * `prevHash`; undefined when it is the right event. `following` (the next stored event)
 * is read only to tell two swapped events from a broken link.
 */
async function checkEvent(
  e: StoredAuditEvent,
  seq: number,
  prevHash: string,
  following: () => Promise<StoredAuditEvent | undefined>,
): Promise<Break | undefined> {
  if (e.seq > seq) return missing(seq, e.seq);
  if (e.seq < seq) return { seq, problem: `events are not in seq order: ${e.seq} comes after ${seq - 1}` };
  const linked = e.prevHash === prevHash;
  const sealed = hashesAt(e, seq, e.prevHash);
  if (linked && sealed) return undefined;
  if (linked) return { seq, problem: `event ${seq} was altered (its hash does not match its contents)` };
  // A link that breaks although this event is sound: the previous event was rewritten
  // together with its hash (only the next link notices).
  if (sealed && seq > 1) return { seq: seq - 1, problem: `event ${seq - 1} was altered (its hash was recomputed; event ${seq} records a different one)` };
  const next = await following();
  if (next?.seq === seq + 1 && next.prevHash === prevHash && hashesAt(next, seq, prevHash)) {
    return { seq, problem: `events ${seq} and ${seq + 1} are out of order` };
  }
  if (seq === 1) return { seq, problem: 'event 1 does not start the chain (prev_hash is not the genesis hash)' };
  return { seq, problem: `event ${seq} does not follow event ${seq - 1} (prev_hash mismatch)` };
}

/** The head must point at the last event: a removed tail leaves the chain itself intact. */
function checkHead(head: AuditHead | undefined, lastSeq: number, lastHash: string): Break | undefined {
  if (head === undefined) {
    return lastSeq === 0 ? undefined : { seq: lastSeq, problem: `the chain's head record is missing (the chain ends at ${lastSeq})` };
  }
  const recorded = `the head records ${head.seq}`;
  if (head.seq > lastSeq) {
    const removed = head.seq - lastSeq;
    const which = removed === 1 ? `the last event (${head.seq}) was removed` : `the last ${removed} events (${lastSeq + 1} to ${head.seq}) were removed`;
    const ends = lastSeq === 0 ? 'no event is left' : `the chain ends at ${lastSeq}`;
    return { seq: lastSeq + 1, problem: `${which}: ${ends}, ${recorded}` };
  }
  if (head.seq < lastSeq) return { seq: head.seq + 1, problem: `event ${head.seq + 1} is not recorded in the head: ${recorded}` };
  if (head.hash !== lastHash) return { seq: lastSeq, problem: `event ${lastSeq} was altered (the head records a different hash for it)` };
  return undefined;
}

/**
 * Walks one org's events in seq order and reports the first that was altered, removed or
 * reordered. Each event must carry the next seq (1, 2, 3, ...), link to the previous hash
 * (the first to GENESIS_HASH) and hash to its recorded hash; the head must match the last.
 * Pure: it reads the events as they come (page by page) and stops at the first break.
 */
export async function verifyAuditChain(events: AsyncIterable<StoredAuditEvent>, head: AuditHead | undefined): Promise<AuditVerification> {
  const iterator = events[Symbol.asyncIterator]();
  const next = async () => {
    const r = await iterator.next();
    return r.done ? undefined : r.value;
  };
  let seq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  let broken: Break | undefined;
  try {
    for (let e = await next(); e !== undefined; e = await next()) {
      checked++;
      broken = await checkEvent(e, seq, prevHash, next);
      if (broken) break;
      seq++;
      prevHash = e.hash;
    }
  } finally {
    await iterator.return?.();
  }
  broken ??= checkHead(head, seq - 1, prevHash);
  return broken
    ? { intact: false, events: checked, firstBadSeq: broken.seq, problem: broken.problem }
    : { intact: true, events: checked, firstBadSeq: 0, problem: '' };
}
