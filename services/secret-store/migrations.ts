import { dialectOf, type Migration } from '../runtime/db.js';

export const secretStoreMigrations: Migration[] = [
  {
    // Secret metadata and at-rest ciphertext. Deleted rows keep their metadata for audit;
    // their ciphertext, wrapped DEK and KEK version are nulled at deletion.
    name: '20261126_001_secrets',
    async up(knex) {
      await knex.schema.createTable('secrets', (t) => {
        t.string('uid', 40).primary();
        t.string('org', 64).notNullable();
        t.string('name', 128).notNullable();
        t.string('key', 256).notNullable();
        t.text('description').notNullable();
        t.bigInteger('version').notNullable();
        t.binary('ciphertext').nullable();
        t.binary('wrapped_dek').nullable();
        t.integer('kek_version').nullable();
        t.bigInteger('created_at').notNullable();
        t.string('created_by', 256).notNullable();
        t.bigInteger('updated_at').notNullable();
        t.string('updated_by', 256).notNullable();
        t.bigInteger('value_updated_at').notNullable();
        t.bigInteger('deleted_at').nullable();
        t.string('deleted_by', 256).nullable();
        // Listing walks (org, name, uid) in order; keyset pagination uses the same columns.
        t.index(['org', 'name', 'uid'], 'secrets_org_name_uid_idx');
        // Rewrap finds the rows still wrapped by an old master key version.
        t.index(['kek_version'], 'secrets_kek_version_idx');
      });
      // Names sort bytewise on both engines (SQLite's default); PostgreSQL would otherwise
      // follow the database's locale, and list order (and page tokens) would differ.
      if (dialectOf(knex) === 'postgres') await knex.raw('ALTER TABLE secrets ALTER COLUMN name TYPE varchar(128) COLLATE "C"');
      // A name is unique among an org's LIVE secrets only: deleting frees it at once.
      await knex.raw('CREATE UNIQUE INDEX secrets_live_name_unique ON secrets (org, name) WHERE deleted_at IS NULL');
    },
    async down(knex) {
      await knex.schema.dropTable('secrets');
    },
  },
  {
    // Append-only, hash-chained audit log: one chain per org, its head kept in
    // secret_audit_heads so appends serialise per org (row lock on PostgreSQL).
    name: '20261126_002_audit_log',
    async up(knex) {
      await knex.schema.createTable('secret_audit_events', (t) => {
        t.bigIncrements('id', { primaryKey: true });
        t.string('org', 64).notNullable();
        t.bigInteger('seq').notNullable();
        t.bigInteger('time').notNullable();
        t.string('actor', 256).notNullable();
        t.string('action', 64).notNullable();
        t.string('secret_name', 128).nullable();
        t.string('secret_uid', 40).nullable();
        t.bigInteger('secret_version').nullable();
        t.string('request_id', 64).notNullable();
        t.text('details').notNullable();
        t.string('prev_hash', 64).notNullable();
        t.string('hash', 64).notNullable();
        t.unique(['org', 'seq'], { indexName: 'secret_audit_events_org_seq_unique' });
      });
      await knex.schema.createTable('secret_audit_heads', (t) => {
        t.string('org', 64).primary();
        t.bigInteger('seq').notNullable();
        t.string('hash', 64).notNullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('secret_audit_heads');
      await knex.schema.dropTable('secret_audit_events');
    },
  },
  {
    // The current value's keyed BLAKE2b-256 fingerprint (hex, from key-management), so an
    // admin can tell which value a secret holds without seeing it. Null once deleted, and
    // for values stored before fingerprints existed.
    name: '20261127_010_secret_value_fingerprints',
    async up(knex) {
      await knex.schema.alterTable('secrets', (t) => {
        t.string('value_fingerprint', 64).nullable();
      });
    },
    async down(knex) {
      await knex.schema.alterTable('secrets', (t) => {
        t.dropColumn('value_fingerprint');
      });
    },
  },
  {
    // A page of live secrets reads this index in order and stops after the page. Without it,
    // PostgreSQL with stale statistics (a table that just grew fast) picked the partial
    // unique index and sorted every secret of the org: 13 ms instead of 0.1 ms at 20,000.
    name: '20261127_020_secrets_live_page_idx',
    async up(knex) {
      await knex.raw('CREATE INDEX secrets_live_org_name_uid_idx ON secrets (org, name, uid) WHERE deleted_at IS NULL');
    },
    async down(knex) {
      await knex.raw('DROP INDEX secrets_live_org_name_uid_idx');
    },
  },
  {
    // Keyed audit links (docs/crypto.md): an org's events from keyed_from on carry a MAC that
    // key-management computes; earlier ones keep their sha256 hashes. Null: an older chain
    // not appended to since, which continues keyed from a marker event on its next append.
    name: '20261205_010_audit_keyed_from',
    async up(knex) {
      await knex.schema.alterTable('secret_audit_heads', (t) => {
        t.bigInteger('keyed_from').nullable();
      });
    },
    async down(knex) {
      await knex.schema.alterTable('secret_audit_heads', (t) => {
        t.dropColumn('keyed_from');
      });
    },
  },
  {
    // Whether the current value can be a job's environment variable ('ok', 'nul_byte',
    // 'not_utf8'), as key-management saw it while encrypting: a launch asking for an unfit
    // value as a variable is refused before anything is audited. Null once deleted, and for
    // values stored before this column (key-management's decrypt then stands in).
    name: '20261205_030_secret_env_var_fit',
    async up(knex) {
      await knex.schema.alterTable('secrets', (t) => {
        t.string('env_var_fit', 16).nullable();
      });
    },
    async down(knex) {
      await knex.schema.alterTable('secrets', (t) => {
        t.dropColumn('env_var_fit');
      });
    },
  },
];
