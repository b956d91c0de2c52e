import { preparedRows, type Knex } from '../runtime/db.js';
import { GENESIS_HASH, type AuditChain, type AuditEvent, type AuditWrites, type HeadRecord } from './audit.js';

const READ_HEAD = 'select seq, hash, keyed_from from secret_audit_heads where org = ?';

/**
 * The events go in only if the head is still where the links were computed from: the head's
 * move and the insert are one statement, and a head another writer moved matches no row, so
 * nothing is inserted. Under READ COMMITTED, an UPDATE that waited on a concurrent writer
 * checks its WHERE again against the committed row.
 */
const APPEND = `with moved as (
  update secret_audit_heads set seq = ?, hash = ?, keyed_from = ? where org = ? and seq = ? and hash = ? returning org
)
insert into secret_audit_events (org, seq, time, actor, action, secret_name, secret_uid, secret_version, request_id, details, prev_hash, hash)
select e.org, e.seq, e.time, e.actor, e.action, e.secret_name, e.secret_uid, e.secret_version, e.request_id, e.details, e.prev_hash, e.hash
from jsonb_populate_recordset(null::secret_audit_events, ?::jsonb) e
where exists (select 1 from moved)
returning seq`;

/** The head moved between reading it and appending (another replica, or a locked append here). */
class HeadMoved extends Error {}

/**
 * PostgreSQL appends of audit events that change nothing else (a launch's secret.referenced,
 * a verification, a denial), without a transaction: the head is read, the links are computed
 * from it, and one statement moves the head and inserts the events only if the head has not
 * moved since. That is two round trips (both prepared statements) where BEGIN,
 * SELECT ... FOR UPDATE, the insert and COMMIT were four, with the same
 * guarantees: a chain never forks (the head only moves from where the links start), and the
 * events and the head's move commit together or not at all.
 *
 * Appends to one org from this process queue up here, as they did on the row lock, so they
 * do not undo each other's work. When the head has moved (another replica appended, or an
 * append that changed secrets too), the append is done again the locked way, which cannot
 * lose to another writer.
 */
export class UnlockedAuditAppends {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly knex: Knex,
    private readonly chain: Pick<AuditChain, 'append'>,
  ) {}

  async append(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const org = events[0].org;
    if (events.some((e) => e.org !== org)) return this.locked(events);
    return this.queued(org, async () => {
      try {
        await this.chain.append(this.writes(org), events);
      } catch (err) {
        if (!(err instanceof HeadMoved)) throw err;
        await this.locked(events);
      }
    });
  }

  private locked(events: AuditEvent[]): Promise<void> {
    return this.knex.transaction(async (trx) => {
      await this.chain.append(trx, events);
    });
  }

  private writes(org: string): AuditWrites {
    let from: HeadRecord | undefined;
    return {
      lockedHead: async () => {
        from = (await preparedRows<HeadRecord>(this.knex, 'secret_store_audit_head', READ_HEAD, [org]))[0];
        return from;
      },
      createHead: async () => {
        await this.knex('secret_audit_heads').insert({ org, seq: 0, hash: GENESIS_HASH, keyed_from: 1 }).onConflict('org').ignore();
      },
      append: async (_org, rows, head) => {
        const inserted = await preparedRows(this.knex, 'secret_store_audit_append', APPEND, [
          head.seq,
          head.hash,
          head.keyedFrom,
          org,
          from!.seq,
          from!.hash,
          JSON.stringify(rows),
        ]);
        if (inserted.length !== rows.length) throw new HeadMoved(`the audit head of org "${org}" moved`);
      },
      committed: Promise.resolve(),
    };
  }

  /** Runs `append` after the org's earlier appends from this process have settled. */
  private queued(org: string, append: () => Promise<void>): Promise<void> {
    const run = (this.queues.get(org) ?? Promise.resolve()).then(append);
    const settled = run.catch(() => {});
    this.queues.set(org, settled);
    void settled.then(() => {
      if (this.queues.get(org) === settled) this.queues.delete(org);
    });
    return run;
  }
}
