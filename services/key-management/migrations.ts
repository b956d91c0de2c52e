import type { Migration } from '../runtime/db.js';

export const kmsMigrations: Migration[] = [
  {
    // Master key versions the database has seen, with a key check value so a different
    // keyring file carrying the same version numbers is caught at startup.
    name: '20261126_001_kek_versions_and_org_keys',
    async up(knex) {
      await knex.schema.createTable('kms_kek_versions', (t) => {
        t.integer('version').primary();
        t.binary('key_check').notNullable();
        t.string('state', 16).notNullable(); // enabled | disabled | destroyed
        t.bigInteger('created_at').notNullable();
      });
      // Org X25519 keypairs; the private half is wrapped by a KEK version.
      await knex.schema.createTable('kms_org_keys', (t) => {
        t.string('key_id', 64).primary();
        t.string('org', 64).notNullable();
        t.string('state', 16).notNullable(); // primary | previous | retired
        t.binary('public_key').notNullable();
        t.binary('wrapped_private_key').notNullable();
        t.integer('kek_version').notNullable();
        t.bigInteger('created_at').notNullable();
        t.bigInteger('retired_at').nullable();
        t.index(['org'], 'kms_org_keys_org_idx');
        t.index(['kek_version'], 'kms_org_keys_kek_version_idx');
      });
      // At most one primary key per org: makes first-use creation race-safe across replicas.
      await knex.raw(`CREATE UNIQUE INDEX kms_org_keys_one_primary ON kms_org_keys (org) WHERE state = 'primary'`);
    },
    async down(knex) {
      await knex.schema.dropTable('kms_org_keys');
      await knex.schema.dropTable('kms_kek_versions');
    },
  },
  {
    // One audit key per org (32 random bytes) for keyed BLAKE2b value fingerprints, wrapped
    // by a KEK version with AAD "audit-key|<org>|kek-v<N>". The primary key on org makes
    // concurrent first uses agree on one key.
    name: '20261127_010_org_audit_keys',
    async up(knex) {
      await knex.schema.createTable('kms_org_audit_keys', (t) => {
        t.string('org', 64).primary();
        t.binary('wrapped_key').notNullable();
        t.integer('kek_version').notNullable();
        t.bigInteger('created_at').notNullable();
        t.index(['kek_version'], 'kms_org_audit_keys_kek_version_idx');
      });
    },
    async down(knex) {
      await knex.schema.dropTable('kms_org_audit_keys');
    },
  },
  {
    // Each key-management replica reports the master key version it wraps with, every few
    // seconds; retirement refuses a version a live replica still uses. Rows of stopped
    // replicas are deleted on shutdown and otherwise age out (reported_at).
    name: '20261126_020_kms_replicas',
    async up(knex) {
      await knex.schema.createTable('kms_replicas', (t) => {
        t.string('replica_id', 64).primary();
        t.integer('primary_version').notNullable();
        t.bigInteger('reported_at').notNullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('kms_replicas');
    },
  },
  {
    // The latest signed checkpoint of each org's audit chain (secret-store's events are
    // anchored here, outside its database): the link of event `seq`, the chain's first keyed
    // event, when it was signed, and the Ed25519 signature by the org's checkpoint key.
    name: '20261205_010_audit_checkpoints',
    async up(knex) {
      await knex.schema.createTable('kms_audit_checkpoints', (t) => {
        t.string('org', 64).primary();
        t.bigInteger('seq').notNullable();
        t.binary('link').notNullable();
        t.bigInteger('keyed_from').notNullable();
        t.bigInteger('time').notNullable();
        t.binary('signature').notNullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('kms_audit_checkpoints');
    },
  },
];
