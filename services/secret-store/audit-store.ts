import type { Knex } from '../runtime/db.js';
import { toNumber } from '../runtime/db.js';
import { fromAuditRecord, type AuditAction, type AuditChain, type AuditEvent, type AuditRecord, type StoredAuditEvent } from './audit.js';

/** Filters of an audit listing; absent means any. */
export interface AuditFilter {
  action?: AuditAction;
  secretName?: string;
  actor?: string;
  /** Events at or after this time, and before that one (ms since the epoch). */
  startTime?: number;
  endTime?: number;
}

export interface AuditPageQuery extends AuditFilter {
  org: string;
  /** Keyset position: events with seq strictly greater. */
  afterSeq: number;
  /** Events with seq strictly less (the position of a newest-first walk); absent: no bound. */
  beforeSeq?: number;
  /** Newest first (descending seq); default oldest first. */
  newestFirst?: boolean;
  /** Events with seq at most this (the head read before a walk); absent: no bound. */
  upToSeq?: number;
  limit: number;
}

/** Where an org's chain ends, as recorded when the last event was appended. */
export interface AuditHead {
  seq: number;
  hash: string;
  /** The first event with a keyed link; undefined for an older chain not appended to since. */
  keyedFrom?: number;
}

/** Reads and appends an org's audit chain; one knex implementation for SQLite and PostgreSQL. */
export interface AuditStore {
  /** Events in seq order (or reverse, newestFirst), between the bounds, at most `limit`. */
  page(query: AuditPageQuery): Promise<StoredAuditEvent[]>;
  /** The org's head row; undefined when the org has no chain. */
  head(org: string): Promise<AuditHead | undefined>;
  /** Appends in one transaction, returning the events as stored (with seq and hashes). */
  append(events: AuditEvent[]): Promise<StoredAuditEvent[]>;
}

export function createAuditStore(knex: Knex, chain: Pick<AuditChain, 'append'>): AuditStore {
  return {
    async page(query) {
      // (org, seq) is the unique index: a keyset walk within one org.
      const q = knex<AuditRecord>('secret_audit_events').where({ org: query.org }).andWhere('seq', '>', query.afterSeq);
      if (query.upToSeq !== undefined) q.andWhere('seq', '<=', query.upToSeq);
      if (query.beforeSeq !== undefined) q.andWhere('seq', '<', query.beforeSeq);
      if (query.startTime !== undefined) q.andWhere('time', '>=', query.startTime);
      if (query.endTime !== undefined) q.andWhere('time', '<', query.endTime);
      if (query.action !== undefined) q.andWhere('action', query.action);
      if (query.secretName !== undefined) q.andWhere('secret_name', query.secretName);
      if (query.actor !== undefined) q.andWhere('actor', query.actor);
      const rows = await q.orderBy('seq', query.newestFirst ? 'desc' : 'asc').limit(query.limit);
      return rows.map((r) => fromAuditRecord(r as AuditRecord));
    },
    async head(org) {
      const row = await knex('secret_audit_heads').where({ org }).first('seq', 'hash', 'keyed_from');
      if (!row) return undefined;
      return { seq: toNumber(row.seq), hash: row.hash as string, ...(row.keyed_from === null ? {} : { keyedFrom: toNumber(row.keyed_from) }) };
    },
    async append(events) {
      return knex.transaction((trx) => chain.append(trx, events));
    },
  };
}
