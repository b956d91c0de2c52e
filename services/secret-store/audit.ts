import { createHash } from 'node:crypto';
import { forUpdate, toNumber, type Knex } from '../runtime/db.js';

export { PLATFORM_CHAIN } from '../runtime/audit-chain.js';

/** Events that happen in key-management and are recorded through RecordAuditEvent. */
export const KEY_MANAGEMENT_ACTIONS = ['org_key.rotated', 'org_key.retired', 'master_key.rotated', 'master_key.retired'] as const;

export const AUDIT_ACTIONS = [
  'secret.created',
  'secret.value_rotated',
  'secret.key_renamed',
  'secret.description_edited',
  'secret.deleted',
  'secret.referenced',
  'secret.verified',
  'call.denied',
  'master_key.rewrapped',
  ...KEY_MANAGEMENT_ACTIONS,
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type KeyManagementAction = (typeof KEY_MANAGEMENT_ACTIONS)[number];

/** One audit event. Never holds a value, a sealed box or a token. */
export interface AuditEvent {
  org: string;
  time: number;
  actor: string;
  action: AuditAction;
  secretName?: string;
  secretUid?: string;
  secretVersion?: number;
  requestId: string;
  details: Record<string, string | number | boolean>;
}

export interface StoredAuditEvent extends AuditEvent {
  seq: number;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** sha256 over the previous hash and the event's canonical fields. */
export function auditHash(prevHash: string, seq: number, e: AuditEvent): string {
  const canonical = JSON.stringify([
    prevHash,
    e.org,
    seq,
    e.time,
    e.actor,
    e.action,
    e.secretName ?? null,
    e.secretUid ?? null,
    e.secretVersion ?? null,
    e.requestId,
    Object.keys(e.details)
      .sort()
      .map((k) => [k, e.details[k]]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** Audit rows per INSERT statement (12 columns each: well under every engine's bind limit). */
const AUDIT_INSERT_CHUNK = 500;

/**
 * Appends events to their org's chain inside the caller's transaction: no audit, no change.
 * The head row is locked for the append, so concurrent writers (and replicas) queue up.
 * Each org's head is read, locked and moved once per call, and its events go in by the
 * chunk: a job launch audits every secret it reads, and statements, not events, cost.
 * Returns the stored events in the order given.
 */
export async function appendAuditEvents(trx: Knex.Transaction, events: AuditEvent[]): Promise<StoredAuditEvent[]> {
  const stored: StoredAuditEvent[] = new Array(events.length);
  for (const org of new Set(events.map((e) => e.org))) {
    const lockedHead = () => forUpdate(trx('secret_audit_heads').where({ org }).first('seq', 'hash'), trx) as Promise<{ seq: number | string; hash: string } | undefined>;
    // An org's first event creates its head (a writer racing to do the same waits, then finds it).
    let head = await lockedHead();
    if (!head) {
      await trx('secret_audit_heads').insert({ org, seq: 0, hash: GENESIS_HASH }).onConflict('org').ignore();
      head = (await lockedHead())!;
    }
    let seq = toNumber(head.seq);
    let prevHash: string = head.hash;
    const records: AuditRecord[] = [];
    events.forEach((event, index) => {
      if (event.org !== org) return;
      seq += 1;
      const hash = auditHash(prevHash, seq, event);
      records.push(toAuditRecord(event, seq, prevHash, hash));
      stored[index] = { ...event, seq, prevHash, hash };
      prevHash = hash;
    });
    for (let i = 0; i < records.length; i += AUDIT_INSERT_CHUNK) await trx('secret_audit_events').insert(records.slice(i, i + AUDIT_INSERT_CHUNK));
    await trx('secret_audit_heads').where({ org }).update({ seq, hash: prevHash });
  }
  return stored;
}

function toAuditRecord(event: AuditEvent, seq: number, prevHash: string, hash: string): AuditRecord {
  return {
    org: event.org,
    seq,
    time: event.time,
    actor: event.actor,
    action: event.action,
    secret_name: event.secretName ?? null,
    secret_uid: event.secretUid ?? null,
    secret_version: event.secretVersion ?? null,
    request_id: event.requestId,
    details: JSON.stringify(event.details),
    prev_hash: prevHash,
    hash,
  };
}

export interface AuditRecord {
  org: string;
  seq: number | string;
  time: number | string;
  actor: string;
  action: AuditAction;
  secret_name: string | null;
  secret_uid: string | null;
  secret_version: number | string | null;
  request_id: string;
  details: string;
  prev_hash: string;
  hash: string;
}

/** Details that are not a JSON object (a tampered row) keep their text, so the hash check fails on them. */
function parseDetails(text: string): AuditEvent['details'] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as AuditEvent['details'];
  } catch {
    // fall through
  }
  return { unparsable: text };
}

/** A stored row as an event (bigint columns are strings on PostgreSQL). */
export function fromAuditRecord(r: AuditRecord): StoredAuditEvent {
  return {
    org: r.org,
    seq: toNumber(r.seq),
    time: toNumber(r.time),
    actor: r.actor,
    action: r.action,
    secretName: r.secret_name ?? undefined,
    secretUid: r.secret_uid ?? undefined,
    secretVersion: r.secret_version === null ? undefined : toNumber(r.secret_version),
    requestId: r.request_id,
    details: parseDetails(r.details),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export async function listAuditEvents(knex: Knex, org: string): Promise<StoredAuditEvent[]> {
  const rows: AuditRecord[] = await knex('secret_audit_events').where({ org }).orderBy('seq');
  return rows.map(fromAuditRecord);
}
