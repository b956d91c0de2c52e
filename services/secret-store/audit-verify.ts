import type { StoredAuditEvent } from './audit.js';
import { GENESIS_HASH } from './audit.js';
import type { AuditHead } from './audit-store.js';

/** The kinds of break (VerifyAuditLogResponse.Finding, lower-case). */
export type AuditFinding = 'intact' | 'altered' | 'tail_missing' | 'gap' | 'mislinked';

/** The outcome of walking an org's chain (VerifyAuditLogResponse, before mapping). */
export interface AuditVerification {
  intact: boolean;
  /** Events checked: all of them when intact, up to and including the first bad one otherwise. */
  events: number;
  /** The first broken position; 0 when intact. */
  firstBadSeq: number;
  /** What is wrong there, in words; '' when intact. */
  problem: string;
  finding: AuditFinding;
  /** With tail_missing: the last event present (the events after it are missing); 0 otherwise. */
  missingAfterSeq: number;
  /** The signed checkpoint the chain was checked against; 0 when there is none. */
  checkpointSeq: number;
  checkpointTime?: number;
}

/** A signed head of the chain, as key-management keeps it (links in hex). */
export interface AuditCheckpoint {
  seq: number;
  link: string;
  keyedFrom: number;
  time: number;
}

/** Whether `e`, found where event `seq` should be after `prevHash`, carries the link its contents give there. */
export type SealCheck = (e: StoredAuditEvent, seq: number, prevHash: string) => Promise<boolean>;

interface Break {
  seq: number;
  problem: string;
  finding: AuditFinding;
  missingAfterSeq?: number;
}

function missing(expected: number, found: number): Break {
  const which = found - expected === 1 ? `event ${expected} is missing` : `events ${expected} to ${found - 1} are missing`;
  const where = expected === 1 ? `the chain starts at ${found}` : `the chain jumps from ${expected - 1} to ${found}`;
  return { seq: expected, problem: `${which} (${where})`, finding: 'gap' };
}

const altered = (seq: number, why: string): Break => ({ seq, problem: `event ${seq} was altered (${why})`, finding: 'altered' });
const mislinked = (seq: number, problem: string): Break => ({ seq, problem, finding: 'mislinked' });

/**
 * What is wrong with `e`, found where event `seq` should be, after a chain ending in
 * `prevHash`; undefined when it is the right event. `following` (the next stored event)
 * is read only to tell two swapped events from a broken link.
 */
async function checkEvent(
  e: StoredAuditEvent,
  seq: number,
  prevHash: string,
  sealedAt: SealCheck,
  following: () => Promise<StoredAuditEvent | undefined>,
): Promise<Break | undefined> {
  if (e.seq > seq) return missing(seq, e.seq);
  if (e.seq < seq) return mislinked(seq, `events are not in seq order: ${e.seq} comes after ${seq - 1}`);
  const linked = e.prevHash === prevHash;
  const sealed = await sealedAt(e, seq, e.prevHash);
  if (linked && sealed) return undefined;
  if (linked) return altered(seq, 'its hash does not match its contents');
  // A link that breaks although this event is sound: the previous event was rewritten
  // together with its hash (only the next link notices).
  if (sealed && seq > 1) return altered(seq - 1, `its hash was recomputed; event ${seq} records a different one`);
  const next = await following();
  if (next?.seq === seq + 1 && next.prevHash === prevHash && (await sealedAt(next, seq, prevHash))) {
    return mislinked(seq, `events ${seq} and ${seq + 1} are out of order`);
  }
  if (seq === 1) return mislinked(seq, 'event 1 does not start the chain (prev_hash is not the genesis hash)');
  return mislinked(seq, `event ${seq} does not follow event ${seq - 1} (prev_hash mismatch)`);
}

/** The head must point at the last event: a removed tail leaves the chain itself intact. */
function checkHead(head: AuditHead | undefined, lastSeq: number, lastHash: string): Break | undefined {
  if (head === undefined) {
    return lastSeq === 0 ? undefined : mislinked(lastSeq, `the chain's head record is missing (the chain ends at ${lastSeq})`);
  }
  const recorded = `the head records ${head.seq}`;
  if (head.seq > lastSeq) {
    const removed = head.seq - lastSeq;
    const which = removed === 1 ? `the last event (${head.seq}) was removed` : `the last ${removed} events (${lastSeq + 1} to ${head.seq}) were removed`;
    const ends = lastSeq === 0 ? 'no event is left' : `the chain ends at ${lastSeq}`;
    return { seq: lastSeq + 1, problem: `${which}: ${ends}, ${recorded}`, finding: 'tail_missing', missingAfterSeq: lastSeq };
  }
  if (head.seq < lastSeq) return mislinked(head.seq + 1, `event ${head.seq + 1} is not recorded in the head: ${recorded}`);
  if (head.hash !== lastHash) return altered(lastSeq, 'the head records a different hash for it');
  return undefined;
}

/**
 * The signed checkpoint (kept by key-management, outside this database) must lie within the
 * chain, and the event at its seq must carry its link: a tail cut together with the head row,
 * or a chain rebuilt up to the checkpoint, is caught here even when chain and head agree.
 */
function checkCheckpoint(checkpoint: AuditCheckpoint | undefined, lastSeq: number, linkAtCheckpoint: string | undefined): Break | undefined {
  if (!checkpoint) return undefined;
  const signed = `its signed checkpoint of ${new Date(checkpoint.time).toISOString()} records ${checkpoint.seq}`;
  if (checkpoint.seq > lastSeq) {
    const ends = lastSeq === 0 ? 'no event is left' : `the chain ends at ${lastSeq}`;
    return { seq: lastSeq + 1, problem: `events after ${lastSeq} are missing: ${ends}, ${signed}`, finding: 'tail_missing', missingAfterSeq: lastSeq };
  }
  if (linkAtCheckpoint !== checkpoint.link) return altered(checkpoint.seq, `its link is not the one ${signed}: the chain up to it was rewritten`);
  return undefined;
}

/**
 * Walks one org's events in seq order and reports the first that was altered, removed or
 * reordered. Each event must carry the next seq (1, 2, 3, ...), link to the previous hash
 * (the first to GENESIS_HASH) and carry the link its contents give (`sealedAt`); the chain
 * must reach the signed checkpoint and match it there, and the head must match the last.
 * It reads the events as they come (page by page) and stops at the first break.
 */
export async function verifyAuditChain(
  events: AsyncIterable<StoredAuditEvent>,
  head: AuditHead | undefined,
  sealedAt: SealCheck,
  checkpoint?: AuditCheckpoint,
): Promise<AuditVerification> {
  const iterator = events[Symbol.asyncIterator]();
  const next = async () => {
    const r = await iterator.next();
    return r.done ? undefined : r.value;
  };
  let seq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  let linkAtCheckpoint: string | undefined;
  let broken: Break | undefined;
  try {
    for (let e = await next(); e !== undefined; e = await next()) {
      checked++;
      broken = await checkEvent(e, seq, prevHash, sealedAt, next);
      if (broken) break;
      if (seq === checkpoint?.seq) linkAtCheckpoint = e.hash;
      seq++;
      prevHash = e.hash;
    }
  } finally {
    await iterator.return?.();
  }
  broken ??= checkCheckpoint(checkpoint, seq - 1, linkAtCheckpoint) ?? checkHead(head, seq - 1, prevHash);
  const anchor = { checkpointSeq: checkpoint?.seq ?? 0, checkpointTime: checkpoint?.time };
  return broken
    ? { intact: false, events: checked, firstBadSeq: broken.seq, problem: broken.problem, finding: broken.finding, missingAfterSeq: broken.missingAfterSeq ?? 0, ...anchor }
    : { intact: true, events: checked, firstBadSeq: 0, problem: '', finding: 'intact', missingAfterSeq: 0, ...anchor };
}
