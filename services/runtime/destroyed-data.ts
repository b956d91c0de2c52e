import { dialectOf, type Knex } from './db.js';

/**
 * Makes destroyed values leave the database's files, after a write that destroyed some
 * (a soft delete, a value rotation, a rewrap) has committed.
 *
 * SQLite: secure_delete (db.ts) zeroes what a write frees in the main file, but in WAL mode
 * every page a transaction wrote is first appended to the -wal file, and earlier frames
 * (holding the value as it was inserted) stay there until a checkpoint, and in the file's
 * bytes until they are overwritten. A TRUNCATE checkpoint copies the WAL into the main file
 * (where secure_delete has zeroed the old cells and overflow pages) and truncates the -wal
 * to zero bytes. The -shm file is an index of page numbers and never holds row content.
 *
 * Checkpoints are batched: one runs at a time, and every destroying write that commits
 * while one runs waits for the next, so a burst of deletes shares one checkpoint instead of
 * paying one each (docs/crypto.md has the figures).
 *
 * PostgreSQL keeps dead row versions until VACUUM; that is an operator's step
 * (`vessl-secrets maintenance purge`), documented in docs/crypto.md.
 */
export interface DestroyedData {
  /** Resolves once a checkpoint that began after this call has finished; false when it could not complete (a reader held it off). */
  scrub(): Promise<boolean>;
}

const NOTHING_TO_DO: DestroyedData = { scrub: async () => true };

/** One per database, so every writer's checkpoints are batched together. */
const perDatabase = new WeakMap<Knex, DestroyedData>();

export function destroyedDataOf(knex: Knex): DestroyedData {
  if (dialectOf(knex) !== 'sqlite') return NOTHING_TO_DO;
  let known = perDatabase.get(knex);
  if (!known) {
    known = checkpointer(knex);
    perDatabase.set(knex, known);
  }
  return known;
}

function checkpointer(knex: Knex): DestroyedData {
  let running: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;
  const checkpoint = async (): Promise<boolean> => {
    // busy = 1 when readers kept it from finishing (after busy_timeout): the next one retries.
    const [result] = (await knex.raw('PRAGMA wal_checkpoint(TRUNCATE)')) as { busy: number }[];
    return result?.busy === 0;
  };
  const start = (): Promise<boolean> => {
    const run = checkpoint().finally(() => {
      if (running === run) running = undefined;
    });
    running = run;
    return run;
  };
  return {
    scrub() {
      if (!running) return start();
      // The one running may have begun before our write committed: wait for the next one,
      // which every write committed meanwhile shares.
      queued ??= running
        .catch(() => false)
        .then(() => {
          queued = undefined;
          return start();
        });
      return queued;
    },
  };
}
