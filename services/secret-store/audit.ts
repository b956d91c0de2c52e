import { createHash } from 'node:crypto';
import { GENESIS_LINK, sha256, type AuditLinker } from '../runtime/audit-link.js';
import { dialectOf, forUpdate, toNumber, type Knex } from '../runtime/db.js';
import { insertRecord, type SqliteWrites } from '../runtime/sqlite-client.js';

export { PLATFORM_CHAIN } from '../runtime/audit-chain.js';

/** Events that happen in key-management and are recorded through RecordAuditEvent. */
export const KEY_MANAGEMENT_ACTIONS = ['org_key.rotated', 'org_key.retired', 'master_key.rotated', 'master_key.retired'] as const;
/**
 * Recorded by the job launcher through RecordAuditEvent: an attempt whose values were handed
 * out (secret.referenced) and that then did not start, and why.
 */
export const JOB_LAUNCHER_ACTIONS = ['job.launch_failed', 'workspace.start_failed', 'workspace.file_removed'] as const;

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
  // The first keyed event of a chain that began before links were keyed (docs/crypto.md).
  'audit.chain_keyed',
  ...KEY_MANAGEMENT_ACTIONS,
  ...JOB_LAUNCHER_ACTIONS,
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type KeyManagementAction = (typeof KEY_MANAGEMENT_ACTIONS)[number];
export type JobLauncherAction = (typeof JOB_LAUNCHER_ACTIONS)[number];

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

export const GENESIS_HASH = Buffer.from(GENESIS_LINK).toString('hex');

/** The event's fields in a fixed order, as JSON: what its hash (legacy) or digest (keyed) covers. */
function canonicalFields(seq: number, e: AuditEvent): unknown[] {
  return [
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
  ];
}

/**
 * The unkeyed link of events from before links were keyed: sha256 over the previous hash and
 * the event's canonical fields. Anyone can recompute it; kept to verify those chains as before.
 */
export function auditHash(prevHash: string, seq: number, e: AuditEvent): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, ...canonicalFields(seq, e)]))
    .digest('hex');
}

/** What a keyed link covers of an event besides the previous link (docs/crypto.md). */
export function auditDigest(seq: number, e: AuditEvent): Uint8Array {
  return sha256(JSON.stringify(canonicalFields(seq, e)));
}

export const linkBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
export const linkHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Events per LinkAuditEvents call (key-management's limit). */
const LINK_CHUNK = 1000;

/** Who writes the marker event that starts the keyed part of an older chain. */
export const AUDIT_CHAIN_ACTOR = 'svc:secret-store';

export interface HeadRecord {
  seq: number | string;
  hash: string;
  keyed_from: number | string | null;
}

/**
 * What an append does to the store, inside the caller's transaction: through knex (either
 * engine), or through SQLite's prepared statements (sqliteAuditWrites).
 */
export interface AuditWrites {
  /** The org's head, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite: its write lock). */
  lockedHead(org: string): Promise<HeadRecord | undefined>;
  /** Creates the org's head at genesis unless a racing writer did. */
  createHead(org: string): Promise<void>;
  /** Inserts the org's new events and moves its head to the last of them. */
  append(org: string, rows: AuditRecord[], head: { seq: number; hash: string; keyedFrom: number }): Promise<void>;
  /** Settles once the transaction commits (resolves) or rolls back (rejects). */
  committed: Promise<unknown>;
}

/** Audit rows per INSERT statement on knex (12 columns each: well under every engine's bind limit). */
const AUDIT_INSERT_CHUNK = 500;

function knexAuditWrites(trx: Knex.Transaction): AuditWrites {
  return {
    lockedHead: (org) => forUpdate(trx('secret_audit_heads').where({ org }).first('seq', 'hash', 'keyed_from'), trx) as Promise<HeadRecord | undefined>,
    async createHead(org) {
      await trx('secret_audit_heads').insert({ org, seq: 0, hash: GENESIS_HASH, keyed_from: 1 }).onConflict('org').ignore();
    },
    async append(org, rows, head) {
      const move = trx('secret_audit_heads').where({ org }).update({ seq: head.seq, hash: head.hash, keyed_from: head.keyedFrom });
      // PostgreSQL: the last chunk and the head's move as one statement (one round trip less).
      const last = rows.length - ((rows.length - 1) % AUDIT_INSERT_CHUNK) - 1;
      for (let i = 0; i < last; i += AUDIT_INSERT_CHUNK) await trx('secret_audit_events').insert(rows.slice(i, i + AUDIT_INSERT_CHUNK));
      const insert = trx('secret_audit_events').insert(rows.slice(last));
      if (dialectOf(trx) !== 'postgres') {
        await insert;
        await move;
        return;
      }
      const [i, m] = [insert.toSQL(), move.toSQL()];
      await trx.raw(`with inserted as (${i.sql}) ${m.sql}`, [...i.bindings, ...m.bindings]);
    },
    committed: trx.executionPromise,
  };
}

/** AuditWrites on SQLite's held connection (sqliteWriteTransaction), without knex. */
export function sqliteAuditWrites(db: SqliteWrites): AuditWrites {
  return {
    lockedHead: async (org) => db.all<HeadRecord>('select seq, hash, keyed_from from secret_audit_heads where org = ?', [org])[0],
    async createHead(org) {
      db.run('insert into secret_audit_heads (org, seq, hash, keyed_from) values (?, 0, ?, 1) on conflict (org) do nothing', [org, GENESIS_HASH]);
    },
    async append(org, rows, head) {
      for (const r of rows) insertRecord(db.run, 'secret_audit_events', { ...r });
      db.run('update secret_audit_heads set seq = ?, hash = ?, keyed_from = ? where org = ?', [head.seq, head.hash, head.keyedFrom, org]);
    },
    committed: db.committed,
  };
}

/**
 * Appends events to their orgs' chains. Links are keyed MACs that key-management computes
 * (`link`): one call per org and append, never one per event, and the key never comes here.
 * `appended` hears of every committed append (the checkpointer anchors them).
 */
export class AuditChain {
  constructor(
    private readonly link: AuditLinker,
    private readonly appended: (org: string, events: number) => void = () => {},
  ) {}

  /**
   * Appends inside the caller's transaction: no audit, no change. The head row is locked for
   * the append, so concurrent writers (and replicas) queue up. Each org's head is read,
   * locked and moved once per call, its links computed in one call, and its events go in by
   * the chunk: a job launch audits every secret it reads, and statements, not events, cost.
   * Returns the stored events in the order given.
   */
  async append(transaction: Knex.Transaction | AuditWrites, events: AuditEvent[]): Promise<StoredAuditEvent[]> {
    const writes = typeof transaction === 'function' ? knexAuditWrites(transaction) : transaction;
    const stored: StoredAuditEvent[] = new Array(events.length);
    const counts = new Map<string, number>();
    for (const org of new Set(events.map((e) => e.org))) {
      // An org's first event creates its head (a writer racing to do the same waits, then finds
      // it); a chain begun now is keyed from its first event.
      let head = await writes.lockedHead(org);
      if (!head) {
        await writes.createHead(org);
        head = (await writes.lockedHead(org))!;
      }
      const indexes = events.flatMap((e, i) => (e.org === org ? [i] : []));
      const batch = indexes.map((i) => events[i]);
      let seq = toNumber(head.seq);
      let keyedFrom = head.keyed_from === null ? undefined : toNumber(head.keyed_from);
      if (keyedFrom === undefined) {
        // A chain from before links were keyed continues keyed from a marked event that
        // records where the unkeyed part ends.
        keyedFrom = seq + 1;
        batch.unshift({ org, time: batch[0].time, actor: AUDIT_CHAIN_ACTOR, action: 'audit.chain_keyed', requestId: batch[0].requestId, details: { legacyEvents: seq, legacyHead: head.hash } });
      }
      const first = seq + 1;
      const links = await this.links(org, first, linkBytes(head.hash), batch);
      const records = batch.map((event, i) => {
        const prevHash = i === 0 ? head.hash : linkHex(links[i - 1]);
        return { event, seq: first + i, prevHash, hash: linkHex(links[i]) };
      });
      const offset = batch.length - indexes.length;
      indexes.forEach((index, i) => {
        const r = records[i + offset];
        stored[index] = { ...r.event, seq: r.seq, prevHash: r.prevHash, hash: r.hash };
      });
      seq += records.length;
      await writes.append(org, records.map((r) => toAuditRecord(r.event, r.seq, r.prevHash, r.hash)), { seq, hash: records[records.length - 1].hash, keyedFrom });
      counts.set(org, records.length);
    }
    // Heard of only once the transaction commits: a rolled-back append is not anchored.
    writes.committed.then(
      () => counts.forEach((n, org) => this.appended(org, n)),
      () => {},
    );
    return stored;
  }

  /** The links of events first, first + 1, ... after `prev`, by the chunk. */
  private async links(org: string, first: number, prev: Uint8Array, batch: AuditEvent[]): Promise<Uint8Array[]> {
    const links: Uint8Array[] = [];
    for (let i = 0; i < batch.length; i += LINK_CHUNK) {
      const inputs = batch.slice(i, i + LINK_CHUNK).map((e, j) => ({
        seq: first + i + j,
        digest: auditDigest(first + i + j, e),
        prevLink: j === 0 ? (i === 0 ? prev : links[i - 1]) : undefined,
      }));
      links.push(...(await this.link(org, inputs)));
    }
    return links;
  }
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
