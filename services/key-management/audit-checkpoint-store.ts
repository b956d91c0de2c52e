import { insertUnlessTaken, toNumber, type Knex } from '../runtime/db.js';

/** A signed head of an org's audit chain, as key-management stores it. */
export interface StoredCheckpoint {
  org: string;
  seq: number;
  link: Uint8Array;
  keyedFrom: number;
  time: number;
  signature: Uint8Array;
}

interface CheckpointRecord {
  org: string;
  seq: number | string;
  link: Buffer;
  keyed_from: number | string;
  time: number | string;
  signature: Buffer;
}

export interface AuditCheckpointStore {
  checkpoint(org: string): Promise<StoredCheckpoint | undefined>;
  /**
   * Stores `next` if the org's checkpoint is still at `fromSeq` (undefined: there is none),
   * so that two replicas anchoring at once cannot both move it; false when it moved meanwhile.
   */
  advance(next: StoredCheckpoint, fromSeq: number | undefined): Promise<boolean>;
}

const TABLE = 'kms_audit_checkpoints';

const toRecord = (c: StoredCheckpoint) => ({
  seq: c.seq,
  link: Buffer.from(c.link),
  keyed_from: c.keyedFrom,
  time: c.time,
  signature: Buffer.from(c.signature),
});

export function createAuditCheckpointStore(knex: Knex): AuditCheckpointStore {
  return {
    async checkpoint(org) {
      const r = await knex<CheckpointRecord>(TABLE).where({ org }).first();
      if (!r) return undefined;
      return {
        org: r.org,
        seq: toNumber(r.seq),
        link: new Uint8Array(r.link),
        keyedFrom: toNumber(r.keyed_from),
        time: toNumber(r.time),
        signature: new Uint8Array(r.signature),
      };
    },
    async advance(next, fromSeq) {
      if (fromSeq === undefined) return insertUnlessTaken(() => knex(TABLE).insert({ org: next.org, ...toRecord(next) }));
      const updated = await knex(TABLE).where({ org: next.org, seq: fromSeq }).update(toRecord(next));
      return updated === 1;
    },
  };
}
