import { destroyedDataOf } from '../runtime/destroyed-data.js';
import { dialectOf, type Knex } from '../runtime/db.js';

/** What `vessl-secrets maintenance purge-destroyed` did, step by step, for the operator. */
export interface PurgeReport {
  engine: 'sqlite' | 'postgres';
  steps: string[];
}

/**
 * Forces destroyed values (deleted secrets, rotated-out versions, data keys as an old master
 * key wrapped them) out of the secret-store's database files, as far as the database can.
 *
 * SQLite: the server already does this after every destroying write (destroyed-data.ts);
 * here a TRUNCATE checkpoint catches up after a crash or a reader that held one off.
 *
 * PostgreSQL: an UPDATE leaves the old row version (and its TOAST chunks, where a value over
 * ~2 KB lives) in the table's files until VACUUM, and a plain VACUUM only marks that space
 * reusable. VACUUM FULL rewrites `secrets` (and its TOAST table) into new files and unlinks
 * the old ones; it holds an ACCESS EXCLUSIVE lock on `secrets` while it runs (seconds for
 * 100,000 secrets), so secret calls wait meanwhile. Then a CHECKPOINT, where the role may run
 * one, so the WAL written before can be recycled sooner. What stays is listed in
 * docs/crypto.md: WAL segments until overwritten, archives, replicas and backups.
 */
export async function purgeDestroyedValues(knex: Knex): Promise<PurgeReport> {
  if (dialectOf(knex) === 'sqlite') {
    const complete = await destroyedDataOf(knex).scrub();
    if (!complete) throw new Error('the WAL checkpoint could not complete: another process is reading secret-store.sqlite; stop it and run this again');
    return { engine: 'sqlite', steps: ['checkpointed the WAL into the database file and truncated secret-store.sqlite-wal to 0 bytes'] };
  }
  const steps: string[] = [];
  await knex.raw('VACUUM (FULL, ANALYZE) secrets');
  steps.push('rewrote table secrets and its TOAST table into new files without the destroyed row versions, and unlinked the old files (VACUUM FULL)');
  try {
    await knex.raw('CHECKPOINT');
    steps.push('ran a CHECKPOINT, so the WAL segments that held the old versions can be recycled');
  } catch {
    steps.push('skipped CHECKPOINT (this role may not run one; PostgreSQL 15+ grants it with pg_checkpoint): the WAL is recycled at the next automatic checkpoint');
  }
  return { engine: 'postgres', steps };
}
