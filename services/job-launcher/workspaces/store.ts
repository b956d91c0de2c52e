import { isUniqueViolation, optionalNumber, toNumber, type Knex } from '../../runtime/db.js';
import type { EnvEntry } from '../backend.js';
import { byLanding, type InjectedSecretRow, type SecretRef } from '../store.js';
import type { WorkspaceState, WorkspaceStatus } from './workspace-backend.js';

/** States in which a workspace's run is over (a start may begin the next one). */
export const ENDED_STATES: readonly WorkspaceState[] = ['STOPPED', 'FAILED'];

export interface WorkspaceRow {
  id: string;
  org: string;
  name: string;
  image: string;
  /** Empty: it idles. */
  command: string;
  env: EnvEntry[];
  secretRefs: SecretRef[];
  backend: string;
  state: WorkspaceState;
  /** The current (or last) run: 1 for the first. */
  run: number;
  /** The run's backend handle; empty until it has started. */
  ref: string;
  startTime?: number;
  endTime?: number;
  exitCode?: number;
  message: string;
  createdAt: number;
  /** Its owner. */
  createdBy: string;
  updatedAt: number;
}

/** A secret the current run holds (never its value). */
export interface WorkspaceSecretRow extends InjectedSecretRow {
  /** A file: when it was last written (its start, or its last refresh). */
  refreshedAt?: number;
  /** A file whose secret was deleted: removed from the running workspace. */
  removed: boolean;
}

export interface ListWorkspacesQuery {
  org: string;
  /** Only this owner's (a member's listing). */
  owner?: string;
  limit: number;
  /** Keyset position: rows strictly older than (createdAt, id). */
  after?: { createdAt: number; id: string };
  /** Only workspaces whose current run holds this secret. */
  secretName?: string;
}

/** The workspaces' storage, one knex implementation for SQLite and PostgreSQL. */
export interface WorkspaceStore {
  /** A new workspace (its first run STARTING) with the run's secrets; false when its name is taken in its org. */
  insert(workspace: WorkspaceRow, secrets: InjectedSecretRow[]): Promise<boolean>;
  /** Undoes a workspace whose first run could not be started. */
  remove(id: string): Promise<void>;
  get(org: string, name: string): Promise<WorkspaceRow | undefined>;
  list(query: ListWorkspacesQuery): Promise<WorkspaceRow[]>;
  /** The current runs' secrets, by workspace id, in landing order. */
  secretsOf(ids: string[]): Promise<Map<string, WorkspaceSecretRow[]>>;
  /**
   * Begins run `run` (STARTING, with these secrets) if the workspace's run is still run - 1
   * and has ended; false otherwise (a concurrent start or stop won).
   */
  beginRun(id: string, run: number, secrets: InjectedSecretRow[], now: number): Promise<boolean>;
  /** Records where a started run runs, and its state when the backend told it (unless the run ended meanwhile). */
  startedRun(id: string, run: number, ref: string, status: WorkspaceStatus | undefined, now: number): Promise<boolean>;
  /** Records a state change of run `run` unless it has ended (or a later run began). True when recorded. */
  updateStatus(id: string, run: number, status: WorkspaceStatus, now: number): Promise<boolean>;
  /** A file of run `run` now holds `version` (refreshed at `at`), or was removed (its secret deleted). */
  updateFile(id: string, run: number, filePath: string, change: { version: number; at: number } | { removed: true; at: number }): Promise<void>;
  /** Runs not ended (to reconcile after a restart, and to refresh files). */
  unfinished(): Promise<WorkspaceRow[]>;
  countByState(): Promise<Map<string, number>>;
}

interface WorkspaceRecord {
  id: string;
  org: string;
  name: string;
  image: string;
  command: string;
  env: string;
  secret_refs: string;
  backend: string;
  state: WorkspaceState;
  run: number;
  ref: string;
  start_time: number | string | null;
  end_time: number | string | null;
  exit_code: number | null;
  message: string;
  created_at: number | string;
  created_by: string;
  updated_at: number | string;
}

interface SecretRecord {
  workspace_id: string;
  run: number;
  org: string;
  secret_name: string;
  secret_uid: string;
  env_name: string;
  file_path: string;
  version: number | string;
  refreshed_at: number | string | null;
  removed: boolean | number;
}


const toWorkspace = (r: WorkspaceRecord): WorkspaceRow => ({
  id: r.id,
  org: r.org,
  name: r.name,
  image: r.image,
  command: r.command,
  env: JSON.parse(r.env) as EnvEntry[],
  secretRefs: JSON.parse(r.secret_refs) as SecretRef[],
  backend: r.backend,
  state: r.state,
  run: r.run,
  ref: r.ref,
  startTime: optionalNumber(r.start_time),
  endTime: optionalNumber(r.end_time),
  exitCode: r.exit_code ?? undefined,
  message: r.message,
  createdAt: toNumber(r.created_at),
  createdBy: r.created_by,
  updatedAt: toNumber(r.updated_at),
});

const toSecret = (s: SecretRecord): WorkspaceSecretRow => ({
  secretName: s.secret_name,
  secretUid: s.secret_uid,
  envName: s.env_name,
  filePath: s.file_path,
  version: toNumber(s.version),
  refreshedAt: optionalNumber(s.refreshed_at),
  removed: Boolean(s.removed),
});

function secretRecords(workspace: { id: string; org: string }, run: number, secrets: InjectedSecretRow[], now: number): SecretRecord[] {
  return secrets.map((s) => ({
    workspace_id: workspace.id,
    run,
    org: workspace.org,
    secret_name: s.secretName,
    secret_uid: s.secretUid,
    env_name: s.envName,
    file_path: s.filePath,
    version: s.version,
    refreshed_at: s.filePath ? now : null,
    removed: false,
  }));
}

/** The columns a status sets. */
function statusChanges(status: WorkspaceStatus): Partial<WorkspaceRecord> {
  const changes: Partial<WorkspaceRecord> = { state: status.state };
  if (status.startTime) changes.start_time = status.startTime.getTime();
  if (status.endTime) changes.end_time = status.endTime.getTime();
  if (status.exitCode !== undefined) changes.exit_code = status.exitCode;
  if (status.message !== undefined) changes.message = status.message;
  return changes;
}

export function createWorkspaceStore(knex: Knex): WorkspaceStore {
  const unended = (db: Knex, id: string, run: number) => db('workspaces').where({ id, run }).whereNotIn('state', ENDED_STATES as WorkspaceState[]);
  return {
    async insert(workspace, secrets) {
      try {
        await knex.transaction(async (trx) => {
          await trx('workspaces').insert({
            id: workspace.id,
            org: workspace.org,
            name: workspace.name,
            image: workspace.image,
            command: workspace.command,
            env: JSON.stringify(workspace.env),
            secret_refs: JSON.stringify(workspace.secretRefs),
            backend: workspace.backend,
            state: workspace.state,
            run: workspace.run,
            ref: workspace.ref,
            start_time: null,
            end_time: null,
            exit_code: null,
            message: workspace.message,
            created_at: workspace.createdAt,
            created_by: workspace.createdBy,
            updated_at: workspace.updatedAt,
          });
          if (secrets.length > 0) await trx('workspace_secrets').insert(secretRecords(workspace, workspace.run, secrets, workspace.createdAt));
        });
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    },
    async remove(id) {
      await knex.transaction(async (trx) => {
        await trx('workspace_secrets').where({ workspace_id: id }).delete();
        await trx('workspaces').where({ id }).delete();
      });
    },
    async get(org, name) {
      const r = await knex<WorkspaceRecord>('workspaces').where({ org, name }).first();
      return r ? toWorkspace(r) : undefined;
    },
    async list(query) {
      const q = knex<WorkspaceRecord>('workspaces').where('workspaces.org', query.org).select('workspaces.*');
      if (query.owner !== undefined) q.andWhere('workspaces.created_by', query.owner);
      if (query.secretName) {
        q.whereExists(
          knex('workspace_secrets').whereRaw('workspace_secrets.workspace_id = workspaces.id').andWhere('workspace_secrets.secret_name', query.secretName).andWhere('workspace_secrets.removed', false),
        );
      }
      if (query.after) {
        const { createdAt, id } = query.after;
        q.andWhere((w) => w.where('workspaces.created_at', '<', createdAt).orWhere((w2) => w2.where('workspaces.created_at', createdAt).andWhere('workspaces.id', '<', id)));
      }
      const rows = await q.orderBy([{ column: 'workspaces.created_at', order: 'desc' }, { column: 'workspaces.id', order: 'desc' }]).limit(query.limit);
      return rows.map(toWorkspace);
    },
    async secretsOf(ids) {
      const bySpace = new Map<string, WorkspaceSecretRow[]>(ids.map((id) => [id, []]));
      if (ids.length === 0) return bySpace;
      const rows: SecretRecord[] = await knex('workspace_secrets').whereIn('workspace_id', ids);
      for (const row of rows) bySpace.get(row.workspace_id)?.push(toSecret(row));
      for (const list of bySpace.values()) list.sort(byLanding);
      return bySpace;
    },
    async beginRun(id, run, secrets, now) {
      return knex.transaction(async (trx) => {
        const workspace = await trx<WorkspaceRecord>('workspaces').where({ id }).first('org');
        if (!workspace) return false;
        const begun = await trx('workspaces')
          .where({ id, run: run - 1 })
          .whereIn('state', ENDED_STATES as WorkspaceState[])
          .update({ run, state: 'STARTING', ref: '', start_time: null, end_time: null, exit_code: null, message: '', updated_at: now });
        if (begun === 0) return false;
        await trx('workspace_secrets').where({ workspace_id: id }).delete();
        if (secrets.length > 0) await trx('workspace_secrets').insert(secretRecords({ id, org: workspace.org }, run, secrets, now));
        return true;
      });
    },
    async startedRun(id, run, ref, status, now) {
      await knex('workspaces').where({ id, run }).update({ ref, updated_at: now });
      if (!status) return false;
      return (await unended(knex, id, run).update({ ...statusChanges(status), updated_at: now })) > 0;
    },
    async updateStatus(id, run, status, now) {
      return (await unended(knex, id, run).update({ ...statusChanges(status), updated_at: now })) > 0;
    },
    async updateFile(id, run, filePath, change) {
      const columns = 'removed' in change ? { removed: true, refreshed_at: change.at } : { version: change.version, refreshed_at: change.at };
      await knex('workspace_secrets').where({ workspace_id: id, run, env_name: '', file_path: filePath }).update(columns);
    },
    async unfinished() {
      const rows = await knex<WorkspaceRecord>('workspaces').whereNotIn('state', ENDED_STATES as WorkspaceState[]);
      return rows.map(toWorkspace);
    },
    async countByState() {
      const rows: { state: string; n: number | string }[] = await knex('workspaces').select('state').count({ n: '*' }).groupBy('state');
      return new Map(rows.map((r) => [r.state, toNumber(r.n)]));
    },
  };
}
