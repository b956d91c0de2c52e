import { dialectOf, optionalNumber, preparedRows, toNumber, type Knex } from '../runtime/db.js';
import { insertRecord, sqliteTransaction } from '../runtime/sqlite-client.js';
import { TERMINAL_STATES, type AttemptState, type AttemptStatus, type EnvEntry } from './backend.js';

/**
 * An attempt's secrets in the order every answer gives them: by variable name, then by file
 * path (files, which have no variable, come first), bytewise (in JavaScript, not in the
 * database's collation, which differs between engines and locales).
 */
export const byLanding = (a: { envName: string; filePath?: string }, b: { envName: string; filePath?: string }) => {
  const [x, y] = [`${a.envName}\0${a.filePath ?? ''}`, `${b.envName}\0${b.filePath ?? ''}`];
  return x < y ? -1 : x > y ? 1 : 0;
};

export interface SecretRef {
  secretName: string;
  /** Empty: the secret's own key (unless filePath is set). */
  envName: string;
  /** Set: mounted as a read-only file at this path instead of a variable (`--secret-file PATH=NAME`). */
  filePath?: string;
}

export interface JobRow {
  id: string;
  org: string;
  name: string;
  image: string;
  command: string;
  env: EnvEntry[];
  secretRefs: SecretRef[];
  backend: string;
  state: AttemptState;
  latestAttempt: number;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
}

export interface InjectedSecretRow {
  secretName: string;
  secretUid: string;
  /** Empty for a file. */
  envName: string;
  /** Empty for a variable. */
  filePath: string;
  version: number;
}

export interface AttemptRow {
  jobId: string;
  number: number;
  state: AttemptState;
  ref: string;
  startTime?: number;
  endTime?: number;
  exitCode?: number;
  message: string;
  startedBy: string;
  secrets: InjectedSecretRow[];
}

export interface ListJobsQuery {
  org: string;
  limit: number;
  /** Keyset position: rows strictly older than (createdAt, id). */
  after?: { createdAt: number; id: string };
  state?: AttemptState;
  secretName?: string;
}

/** job-launcher's storage, one knex implementation for SQLite and PostgreSQL. */
export interface JobStore {
  /** A new job with its first attempt, in one transaction. */
  insertJob(job: JobRow, attempt: AttemptRow): Promise<void>;
  /** Undoes a job whose first attempt could not be launched. */
  deleteJob(id: string): Promise<void>;
  /** Adds attempt n+1 if the job's latest attempt is still `expectedLatest`; false otherwise. */
  addAttempt(attempt: AttemptRow, expectedLatest: number): Promise<boolean>;
  /** Undoes an attempt that could not be launched, restoring the previous latest one. */
  removeAttempt(jobId: string, number: number): Promise<void>;
  /**
   * Records where a launched attempt runs and, when the backend said so at launch, its state
   * (unless it already ended), in one transaction. True when the state was recorded.
   */
  startAttempt(jobId: string, number: number, ref: string, status: AttemptStatus | undefined, now: number): Promise<boolean>;
  /** Records a state change unless the attempt already ended; mirrors it on the job when latest. */
  updateAttemptStatus(jobId: string, number: number, status: AttemptStatus, now: number): Promise<boolean>;
  getJob(org: string, id: string): Promise<JobRow | undefined>;
  listJobs(query: ListJobsQuery): Promise<JobRow[]>;
  attemptsOf(jobIds: string[]): Promise<AttemptRow[]>;
  /** Attempts not yet in a terminal state (e.g. to reconcile after a restart). */
  unfinishedAttempts(): Promise<(AttemptRow & { org: string })[]>;
  /** How many jobs are in each state (the latest attempt's), across all orgs: for metrics. */
  countByState(): Promise<Map<string, number>>;
  ping(): Promise<void>;
}

interface JobRecord {
  id: string;
  org: string;
  name: string;
  image: string;
  command: string;
  env: string;
  secret_refs: string;
  backend: string;
  state: AttemptState;
  latest_attempt: number;
  created_at: number | string;
  created_by: string;
  updated_at: number | string;
}

interface AttemptRecord {
  job_id: string;
  number: number;
  state: AttemptState;
  ref: string;
  start_time: number | string | null;
  end_time: number | string | null;
  exit_code: number | null;
  message: string;
  started_by: string;
}

const toJob = (r: JobRecord): JobRow => ({
  id: r.id,
  org: r.org,
  name: r.name,
  image: r.image,
  command: r.command,
  env: JSON.parse(r.env) as EnvEntry[],
  secretRefs: JSON.parse(r.secret_refs) as SecretRef[],
  backend: r.backend,
  state: r.state,
  latestAttempt: r.latest_attempt,
  createdAt: toNumber(r.created_at),
  createdBy: r.created_by,
  updatedAt: toNumber(r.updated_at),
});


function attemptRecord(a: AttemptRow): AttemptRecord {
  return {
    job_id: a.jobId,
    number: a.number,
    state: a.state,
    ref: a.ref,
    start_time: a.startTime ?? null,
    end_time: a.endTime ?? null,
    exit_code: a.exitCode ?? null,
    message: a.message,
    started_by: a.startedBy,
  };
}

function jobRecord(job: JobRow) {
  return {
    id: job.id,
    org: job.org,
    name: job.name,
    image: job.image,
    command: job.command,
    env: JSON.stringify(job.env),
    secret_refs: JSON.stringify(job.secretRefs),
    backend: job.backend,
    state: job.state,
    latest_attempt: job.latestAttempt,
    created_at: job.createdAt,
    created_by: job.createdBy,
    updated_at: job.updatedAt,
  };
}

/** The row in job_attempt_secrets of one of an attempt's secrets. */
const attemptSecretRecord = (org: string, a: AttemptRow, s: InjectedSecretRow) => ({
  job_id: a.jobId,
  attempt: a.number,
  org,
  secret_name: s.secretName,
  secret_uid: s.secretUid,
  env_name: s.envName,
  file_path: s.filePath,
  version: s.version,
});
const attemptSecretRecords = (org: string, a: AttemptRow) => a.secrets.map((s) => attemptSecretRecord(org, a, s));

function attemptInserts(db: Knex, org: string, a: AttemptRow): Knex.QueryBuilder[] {
  const inserts = [db('job_attempts').insert(attemptRecord(a))];
  if (a.secrets.length === 0) return inserts;
  return [...inserts, db('job_attempt_secrets').insert(attemptSecretRecords(org, a))];
}

async function insertAttempt(trx: Knex.Transaction, org: string, a: AttemptRow): Promise<void> {
  for (const insert of attemptInserts(trx, org, a)) await insert;
}

/**
 * PostgreSQL: a new job, its first attempt and the attempt's secrets as one prepared statement,
 * the others as data-modifying WITH clauses before the last: a statement is atomic by itself
 * and costs one round trip, where a transaction costs one per write plus BEGIN and COMMIT.
 * (SQLite has no data-modifying WITH, and no round trips to save: it runs the writes in a
 * transaction.) The rows go as JSON, read back as each table's row type, so
 * the text is the same whatever the number of secrets: the server parses and plans it once per
 * connection, and knex builds nothing.
 */
async function pgInsertJob(knex: Knex, job: JobRow, a: AttemptRow): Promise<void> {
  const [jobRow, attemptRow, secretRows] = [jobRecord(job), attemptRecord(a), attemptSecretRecords(job.org, a)];
  pgInsertJobSql ??= (() => {
    const secretColumns = Object.keys(attemptSecretRecord(job.org, a, {} as InjectedSecretRow));
    const insert = (table: string, columns: string[], rows: 'record' | 'recordset') => {
      const list = columns.map((c) => `"${c}"`).join(', ');
      return `insert into ${table} (${list}) select ${list} from jsonb_populate_${rows}(null::${table}, ?::jsonb)`;
    };
    return `with job as (${insert('jobs', Object.keys(jobRow), 'record')}), attempt as (${insert('job_attempts', Object.keys(attemptRow), 'record')}) ${insert('job_attempt_secrets', secretColumns, 'recordset')}`;
  })();
  await preparedRows(knex, 'job_launcher_insert_job', pgInsertJobSql, [JSON.stringify(jobRow), JSON.stringify(attemptRow), JSON.stringify(secretRows)]);
}
let pgInsertJobSql: string | undefined;

/**
 * Records a state change (plus `extra` columns) unless the attempt already ended, mirrored on
 * the job when it is the latest attempt. True when the attempt changed.
 */
async function recordStatus(knex: Knex, jobId: string, number: number, status: AttemptStatus, now: number, extra: Partial<AttemptRecord> = {}): Promise<boolean> {
  const changes: Partial<AttemptRecord> = { ...extra, state: status.state };
  if (status.startTime) changes.start_time = status.startTime.getTime();
  if (status.endTime) changes.end_time = status.endTime.getTime();
  if (status.exitCode !== undefined) changes.exit_code = status.exitCode;
  if (status.message !== undefined) changes.message = status.message;
  const update = statusUpdate(Object.keys(changes) as (keyof AttemptRecord)[]);
  const attemptValues = [...update.columns.map((c) => changes[c] ?? null), jobId, number, ...TERMINAL_STATES];
  const jobValues = [status.state, now, jobId, number];
  if (dialectOf(knex) === 'postgres') {
    const [{ changed }] = await preparedRows<{ changed: string }>(knex, update.postgres.name, update.postgres.sql, [...attemptValues, ...jobValues]);
    return toNumber(changed) > 0;
  }
  return sqliteTransaction(knex, (run) => {
    if (run(update.attempt, attemptValues) === 0) return false;
    run(update.job, jobValues);
    return true;
  });
}

interface StatusUpdate {
  columns: (keyof AttemptRecord)[];
  /** The attempt's change unless it ended (values: the columns', job id, number, the terminal states). */
  attempt: string;
  /** Its mirror on the job when it is the latest attempt (values: state, updated_at, job id, number). */
  job: string;
  /** PostgreSQL: both as one prepared statement, the job's a WITH clause that runs only if the attempt changed. */
  postgres: { name: string; sql: string };
}
const statusUpdates = new Map<string, StatusUpdate>();

/** recordStatus's statements for a set of changed columns (SQLite runs both in one transaction). */
function statusUpdate(columns: (keyof AttemptRecord)[]): StatusUpdate {
  const key = columns.join(',');
  let update = statusUpdates.get(key);
  if (!update) {
    const set = columns.map((c) => `"${c}" = ?`).join(', ');
    const attempt = `update job_attempts set ${set} where job_id = ? and number = ? and state not in (${TERMINAL_STATES.map(() => '?').join(', ')})`;
    const job = 'update jobs set state = ?, updated_at = ? where id = ? and latest_attempt = ?';
    const sql = `with changed_attempt as (${attempt} returning number), mirrored_job as (${job} and exists (select 1 from changed_attempt)) select count(*) as changed from changed_attempt`;
    update = { columns, attempt, job, postgres: { name: `job_launcher_status_${statusUpdates.size}`, sql } };
    statusUpdates.set(key, update);
  }
  return update;
}

/**
 * SQLite: the launch's writes as one synchronous transaction with prepared statements
 * (sqliteTransaction: knex's transaction machinery cost more than the writes).
 */
function sqliteInsertJob(knex: Knex, job: JobRow, a: AttemptRow): Promise<void> {
  return sqliteTransaction(knex, (run) => {
    insertRecord(run, 'jobs', jobRecord(job));
    insertRecord(run, 'job_attempts', { ...attemptRecord(a) });
    for (const record of attemptSecretRecords(job.org, a)) insertRecord(run, 'job_attempt_secrets', record);
  });
}

export function createJobStore(knex: Knex): JobStore {
  return {
    async insertJob(job, attempt) {
      return dialectOf(knex) === 'sqlite' ? sqliteInsertJob(knex, job, attempt) : pgInsertJob(knex, job, attempt);
    },
    async deleteJob(id) {
      await knex.transaction(async (trx) => {
        await trx('job_attempt_secrets').where({ job_id: id }).delete();
        await trx('job_attempts').where({ job_id: id }).delete();
        await trx('jobs').where({ id }).delete();
      });
    },
    async addAttempt(attempt, expectedLatest) {
      return knex.transaction(async (trx) => {
        const job = await trx<JobRecord>('jobs').where({ id: attempt.jobId }).first('org');
        if (!job) return false;
        const moved = await trx('jobs')
          .where({ id: attempt.jobId, latest_attempt: expectedLatest })
          .update({ latest_attempt: attempt.number, state: attempt.state, updated_at: Date.now() });
        if (moved === 0) return false;
        await insertAttempt(trx, job.org, attempt);
        return true;
      });
    },
    async removeAttempt(jobId, number) {
      await knex.transaction(async (trx) => {
        await trx('job_attempt_secrets').where({ job_id: jobId, attempt: number }).delete();
        await trx('job_attempts').where({ job_id: jobId, number }).delete();
        const previous = await trx<AttemptRecord>('job_attempts').where({ job_id: jobId }).orderBy('number', 'desc').first();
        if (previous) {
          await trx('jobs').where({ id: jobId }).update({ latest_attempt: previous.number, state: previous.state });
        }
      });
    },
    async startAttempt(jobId, number, ref, status, now) {
      const setRef = (db: Knex) => db('job_attempts').where({ job_id: jobId, number }).update({ ref });
      if (!status) {
        await setRef(knex);
        return false;
      }
      if (await recordStatus(knex, jobId, number, status, now, { ref })) return true;
      // It ended before this ran (its outcome is recorded): the ref still belongs to it.
      await setRef(knex);
      return false;
    },
    async updateAttemptStatus(jobId, number, status, now) {
      return recordStatus(knex, jobId, number, status, now);
    },
    async getJob(org, id) {
      const r = await knex<JobRecord>('jobs').where({ org, id }).first();
      return r ? toJob(r) : undefined;
    },
    async listJobs(query) {
      const q = knex<JobRecord>('jobs').where('jobs.org', query.org).select('jobs.*');
      if (query.state) q.andWhere('jobs.state', query.state);
      if (query.secretName) {
        q.whereExists(
          knex('job_attempt_secrets')
            .whereRaw('job_attempt_secrets.job_id = jobs.id')
            .andWhereRaw('job_attempt_secrets.attempt = jobs.latest_attempt')
            .andWhere('job_attempt_secrets.secret_name', query.secretName),
        );
      }
      if (query.after) {
        const { createdAt, id } = query.after;
        q.andWhere((w) => w.where('jobs.created_at', '<', createdAt).orWhere((w2) => w2.where('jobs.created_at', createdAt).andWhere('jobs.id', '<', id)));
      }
      const rows = await q.orderBy([{ column: 'jobs.created_at', order: 'desc' }, { column: 'jobs.id', order: 'desc' }]).limit(query.limit);
      return rows.map(toJob);
    },
    async attemptsOf(jobIds) {
      if (jobIds.length === 0) return [];
      const attempts = await knex<AttemptRecord>('job_attempts').whereIn('job_id', jobIds).orderBy(['job_id', 'number']);
      const secrets = await knex('job_attempt_secrets').whereIn('job_id', jobIds);
      return attempts.map((a: AttemptRecord) => ({
        jobId: a.job_id,
        number: a.number,
        state: a.state,
        ref: a.ref,
        startTime: optionalNumber(a.start_time),
        endTime: optionalNumber(a.end_time),
        exitCode: a.exit_code ?? undefined,
        message: a.message,
        startedBy: a.started_by,
        secrets: secrets
          .filter((s: { job_id: string; attempt: number }) => s.job_id === a.job_id && s.attempt === a.number)
          .map((s: { secret_name: string; secret_uid: string; env_name: string; file_path: string; version: number | string }) => ({
            secretName: s.secret_name,
            secretUid: s.secret_uid,
            envName: s.env_name,
            filePath: s.file_path,
            version: toNumber(s.version),
          }))
          .sort(byLanding),
      }));
    },
    async unfinishedAttempts() {
      const rows = await knex('job_attempts')
        .join('jobs', 'jobs.id', 'job_attempts.job_id')
        .whereNotIn('job_attempts.state', TERMINAL_STATES as AttemptState[])
        .select('job_attempts.*', 'jobs.org');
      return rows.map((a: AttemptRecord & { org: string }) => ({
        org: a.org,
        jobId: a.job_id,
        number: a.number,
        state: a.state,
        ref: a.ref,
        message: a.message,
        startedBy: a.started_by,
        secrets: [],
      }));
    },
    async countByState() {
      const rows: { state: string; n: number | string }[] = await knex('jobs').select('state').count({ n: '*' }).groupBy('state');
      return new Map(rows.map((r) => [r.state, toNumber(r.n)]));
    },
    async ping() {
      await knex.raw('select 1');
    },
  };
}
