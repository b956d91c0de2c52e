import type { Migration } from '../runtime/db.js';

export const jobLauncherMigrations: Migration[] = [
  {
    // Jobs as submitted. `env` holds the plain variables (not secrets) as JSON; secret
    // references are names only. `state` mirrors the latest attempt for filtering.
    name: '20261126_001_jobs',
    async up(knex) {
      await knex.schema.createTable('jobs', (t) => {
        t.string('id', 48).primary();
        t.string('org', 64).notNullable();
        t.string('name', 128).notNullable();
        t.string('image', 512).notNullable();
        t.text('command').notNullable();
        t.text('env').notNullable();
        t.text('secret_refs').notNullable();
        t.string('backend', 16).notNullable();
        t.string('state', 16).notNullable();
        t.integer('latest_attempt').notNullable();
        t.bigInteger('created_at').notNullable();
        t.string('created_by', 256).notNullable();
        t.bigInteger('updated_at').notNullable();
        // Listing is newest first within an org; keyset pagination walks the same columns.
        t.index(['org', 'created_at', 'id'], 'jobs_org_created_idx');
      });
      // One row per run of a job. `ref` is the backend's handle (pid, Kubernetes Job name).
      await knex.schema.createTable('job_attempts', (t) => {
        t.string('job_id', 48).notNullable().references('id').inTable('jobs').onDelete('CASCADE');
        t.integer('number').notNullable();
        t.string('state', 16).notNullable();
        t.string('ref', 256).notNullable();
        t.bigInteger('start_time').nullable();
        t.bigInteger('end_time').nullable();
        t.integer('exit_code').nullable();
        t.text('message').notNullable();
        t.string('started_by', 256).notNullable();
        t.primary(['job_id', 'number']);
      });
      // Which secret version each attempt got (never the value).
      await knex.schema.createTable('job_attempt_secrets', (t) => {
        t.string('job_id', 48).notNullable();
        t.integer('attempt').notNullable();
        t.string('org', 64).notNullable();
        t.string('secret_name', 128).notNullable();
        t.string('secret_uid', 48).notNullable();
        t.string('env_name', 256).notNullable();
        t.bigInteger('version').notNullable();
        t.primary(['job_id', 'attempt', 'env_name']);
        t.foreign(['job_id', 'attempt']).references(['job_id', 'number']).inTable('job_attempts').onDelete('CASCADE');
        // "Where used": the jobs whose attempts hold a secret.
        t.index(['org', 'secret_name'], 'job_attempt_secrets_org_secret_idx');
      });
    },
    async down(knex) {
      await knex.schema.dropTable('job_attempt_secrets');
      await knex.schema.dropTable('job_attempts');
      await knex.schema.dropTable('jobs');
    },
  },
  {
    // Secrets mounted as files (`--secret-file PATH=NAME`): such a row has an empty env_name
    // and the path in file_path (a variable's row has an empty file_path). An attempt may hold
    // several files, so the path joins the primary key. Knex rebuilds the table on SQLite.
    name: '20261205_001_job_attempt_secret_files',
    async up(knex) {
      await knex.schema.alterTable('job_attempt_secrets', (t) => {
        t.string('file_path', 1024).notNullable().defaultTo('');
      });
      await knex.schema.alterTable('job_attempt_secrets', (t) => {
        t.dropPrimary();
        t.primary(['job_id', 'attempt', 'env_name', 'file_path']);
      });
    },
    async down(knex) {
      await knex('job_attempt_secrets').where('file_path', '<>', '').delete();
      await knex.schema.alterTable('job_attempt_secrets', (t) => {
        t.dropPrimary();
        t.primary(['job_id', 'attempt', 'env_name']);
      });
      await knex.schema.alterTable('job_attempt_secrets', (t) => {
        t.dropColumn('file_path');
      });
    },
  },
  {
    // Workspaces (long-lived interactive environments): one row per workspace with its current
    // (or last) run inline, since only the current run holds anything; names are unique per
    // org. `env` holds plain variables (not secrets) as JSON, secret references are names only.
    name: '20261205_002_workspaces',
    async up(knex) {
      await knex.schema.createTable('workspaces', (t) => {
        t.string('id', 48).primary();
        t.string('org', 64).notNullable();
        t.string('name', 128).notNullable();
        t.string('image', 512).notNullable();
        t.text('command').notNullable();
        t.text('env').notNullable();
        t.text('secret_refs').notNullable();
        t.string('backend', 16).notNullable();
        t.string('state', 16).notNullable();
        t.integer('run').notNullable();
        t.string('ref', 256).notNullable();
        t.bigInteger('start_time').nullable();
        t.bigInteger('end_time').nullable();
        t.integer('exit_code').nullable();
        t.text('message').notNullable();
        t.bigInteger('created_at').notNullable();
        t.string('created_by', 256).notNullable();
        t.bigInteger('updated_at').notNullable();
        t.unique(['org', 'name'], { indexName: 'workspaces_org_name_unique' });
        // Listing is newest first within an org (and within an owner's); keyset pagination walks the same columns.
        t.index(['org', 'created_at', 'id'], 'workspaces_org_created_idx');
      });
      // Which secret version the current run holds (never the value); a file's row moves on
      // with each refresh, and says when its secret was deleted and the file removed.
      await knex.schema.createTable('workspace_secrets', (t) => {
        t.string('workspace_id', 48).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
        t.integer('run').notNullable();
        t.string('org', 64).notNullable();
        t.string('secret_name', 128).notNullable();
        t.string('secret_uid', 48).notNullable();
        t.string('env_name', 256).notNullable();
        t.string('file_path', 1024).notNullable();
        t.bigInteger('version').notNullable();
        t.bigInteger('refreshed_at').nullable();
        t.boolean('removed').notNullable().defaultTo(false);
        t.primary(['workspace_id', 'env_name', 'file_path']);
        // "Where used": the workspaces whose run holds a secret.
        t.index(['org', 'secret_name'], 'workspace_secrets_org_secret_idx');
      });
    },
    async down(knex) {
      await knex.schema.dropTable('workspace_secrets');
      await knex.schema.dropTable('workspaces');
    },
  },
];
