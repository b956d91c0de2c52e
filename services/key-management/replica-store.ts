import type { Knex } from '../runtime/db.js';

/** What each key-management replica last said it wraps with (for safe retirement). */
export interface ReplicaStore {
  reportReplica(replicaId: string, primary: number, at: number): Promise<void>;
  forgetReplica(replicaId: string): Promise<void>;
  /** The primaries of replicas that reported since `since`. */
  livePrimaries(since: number): Promise<number[]>;
}

export function createReplicaStore(knex: Knex): ReplicaStore {
  return {
    async reportReplica(replicaId, primary, at) {
      await knex('kms_replicas').insert({ replica_id: replicaId, primary_version: primary, reported_at: at }).onConflict('replica_id').merge();
    },
    async forgetReplica(replicaId) {
      await knex('kms_replicas').where({ replica_id: replicaId }).delete();
    },
    async livePrimaries(since) {
      const rows: { primary_version: number }[] = await knex('kms_replicas').where('reported_at', '>=', since).distinct('primary_version');
      return rows.map((r) => Number(r.primary_version));
    },
  };
}
