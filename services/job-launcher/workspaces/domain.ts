import { randomBytes, randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Role } from '../../runtime/auth.js';
import { aborted, alreadyExists, ApiError, failedPrecondition, notFound, permissionDenied } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/logger.js';
import { BackendError, type SecretFileEntry } from '../backend.js';
import { backendUnavailable, SecretHandout, type Actor, type PreparedSecrets, type SecretsPort } from '../secret-handout.js';
import type { InjectedSecretRow } from '../store.js';
import type { WorkspaceInput } from './rules.js';
import { RunValues, type MaskValues } from './run-values.js';
import { ENDED_STATES, type ListWorkspacesQuery, type WorkspaceRow, type WorkspaceSecretRow, type WorkspaceStore } from './store.js';
import type { ExecProcess, ExecRequest, WorkspaceBackend, WorkspaceHandle, WorkspaceStatus } from './workspace-backend.js';

/**
 * The job launcher's workspaces (DESIGN §5): long-lived interactive environments that get
 * secrets exactly as jobs do (through the same SecretHandout), run on a WorkspaceBackend, and
 * are entered with exec. While a run is up, this manager keeps its secret files current: every
 * `refreshIntervalMs` it asks the secret-store for the versions of the files' secrets, rewrites
 * a rotated one in place (a hand-out audited as a refresh) and removes a deleted one (audited as
 * workspace.file_removed). Variables keep the version the run started with and show as stale.
 *
 * Access: a member sees and uses only their own workspaces; an admin also sees, stops and
 * deletes the org's others, but only an owner starts or enters (exec) a workspace.
 */

export interface WorkspaceActor extends Actor {
  role: Role;
}

export interface WorkspaceSecretView extends WorkspaceSecretRow {
  /** The secret's current version; 0 once deleted. */
  currentVersion: number;
  /** A variable whose secret was rotated or deleted since the run started. */
  stale: boolean;
}

export interface WorkspaceView {
  workspace: WorkspaceRow;
  secrets: WorkspaceSecretView[];
}

/** A file a live run holds: which secret, and the version it was last written with. */
interface LiveFile {
  secretName: string;
  secretUid: string;
  version: number;
  removed: boolean;
}

/** What this manager keeps of a run that is up (in memory only: values never go to disk). */
interface LiveRun {
  handle: WorkspaceHandle;
  owner: string;
  /** Every value the run has held, to mask what exec prints; dropped when the run ends. */
  values: RunValues;
  files: Map<string, LiveFile>;
}

export interface WorkspaceManagerOptions {
  /** How often running workspaces' files are checked against their secrets' versions. */
  refreshIntervalMs?: number;
  now?: () => number;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 1000;

export const newWorkspaceId = () => `w_${randomBytes(8).toString('hex')}`;

const workspaceNotFound = (org: string, name: string) => notFound(`workspace "${name}" not found in org "${org}"`, 'WORKSPACE_NOT_FOUND');
const ended = (row: WorkspaceRow) => ENDED_STATES.includes(row.state);
const handleOf = (row: WorkspaceRow): WorkspaceHandle => ({ org: row.org, workspaceId: row.id, run: row.run, ref: row.ref });
const runKey = (id: string, run: number) => `${id}/${run}`;

/** What this manager keeps of `row`'s run: its files' versions (from what it got) and its values. */
function liveRunOf(row: WorkspaceRow, secrets: (InjectedSecretRow & { removed?: boolean })[], values: Uint8Array[]): LiveRun {
  const files = secrets.filter((s) => s.filePath).map((s): [string, LiveFile] => [s.filePath, { secretName: s.secretName, secretUid: s.secretUid, version: s.version, removed: s.removed ?? false }]);
  return { handle: handleOf(row), owner: row.createdBy, values: new RunValues(values), files: new Map(files) };
}

export class WorkspaceManager {
  private readonly handout: SecretHandout;
  private readonly live = new Map<string, LiveRun>();
  /** Why runs being stopped by a call end (the backend only knows they ended). */
  private readonly stopReasons = new Map<string, string>();
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;

  constructor(
    private readonly store: WorkspaceStore,
    private readonly secrets: SecretsPort,
    private readonly backend: WorkspaceBackend,
    private readonly log: Logger,
    private readonly options: WorkspaceManagerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.handout = new SecretHandout(secrets, backend, log);
    backend.onStateChange?.((handle, st) => {
      void this.record(handle, st).catch((err: unknown) => this.log.error({ err, workspaceId: handle.workspaceId }, 'recording a workspace state failed'));
    });
  }

  /** Where this backend mounts secret files (the server checks paths against them). */
  get secretFileRoots(): readonly string[] {
    return this.handout.secretFileRoots;
  }

  private async record(handle: WorkspaceHandle, st: WorkspaceStatus): Promise<boolean> {
    const reason = this.stopReasons.get(runKey(handle.workspaceId, handle.run));
    const recorded = reason ? { ...st, state: 'STOPPED' as const, message: reason } : st;
    if (ENDED_STATES.includes(recorded.state)) this.forget(handle.workspaceId, handle.run);
    return this.store.updateStatus(handle.workspaceId, handle.run, recorded, this.now());
  }

  private forget(id: string, run: number): void {
    const live = this.live.get(id);
    if (!live || live.handle.run !== run) return;
    live.values.wipe();
    this.live.delete(id);
  }

  /** The workspace, if the actor may `see` it (list, show, stop, delete) or `use` it (start, exec). */
  private async load(org: string, name: string, actor: WorkspaceActor, use: 'see' | 'use'): Promise<WorkspaceRow> {
    const row = await this.store.get(org, name);
    if (!row) throw workspaceNotFound(org, name);
    if (row.createdBy === actor.subject || (use === 'see' && actor.role === 'admin')) return row;
    const rule = actor.role === 'admin' ? 'only its owner may start it or run commands in it' : 'members use only their own workspaces';
    throw permissionDenied(`workspace "${name}" belongs to ${row.createdBy}: ${rule}`);
  }

  async create(org: string, input: WorkspaceInput, actor: WorkspaceActor): Promise<{ view: WorkspaceView; warnings: string[] }> {
    // Before any secret is read (and audited): a taken name is the usual mistake.
    if (await this.store.get(org, input.name)) throw nameTaken(org, input.name);
    const id = newWorkspaceId();
    const runner = { id, run: 1 };
    const prepared = await this.handout.prepare(org, runner, input, actor);
    const at = this.now();
    const row: WorkspaceRow = {
      id,
      org,
      ...input,
      backend: this.backend.name,
      state: 'STARTING',
      run: 1,
      ref: '',
      message: '',
      createdAt: at,
      createdBy: actor.subject,
      updatedAt: at,
    };
    const handedOut = prepared.injected.length > 0;
    await this.handout.afterHandOut(
      org,
      runner,
      actor,
      async () => {
        if (!(await this.store.insert(row, prepared.injected))) throw nameTaken(org, input.name);
        // A workspace that never started is not kept: as with a job, nothing is left behind.
        await this.startRun(row, prepared, () => this.store.remove(id));
      },
      handedOut,
    );
    return { view: await this.view(row, actor), warnings: [...prepared.warnings, ...(this.backend.warnings ?? [])] };
  }

  /** Starts `row`'s current run in the backend and records it; on failure `undo` runs and the error goes up. */
  private async startRun(row: WorkspaceRow, prepared: PreparedSecrets, undo: () => Promise<unknown>): Promise<void> {
    try {
      const { ref, status } = await this.backend.start({
        org: row.org,
        workspaceId: row.id,
        run: row.run,
        name: row.name,
        image: row.image,
        command: row.command,
        env: row.env,
        secretEnv: prepared.secretEnv,
        secretFiles: prepared.secretFiles,
      });
      row.ref = ref;
      this.live.set(row.id, liveRunOf(row, prepared.injected, [...prepared.secretEnv, ...prepared.secretFiles].map((entry) => entry.value)));
      const at = this.now();
      if (await this.store.startedRun(row.id, row.run, ref, status, at)) {
        Object.assign(row, { state: status!.state, startTime: status!.startTime?.getTime(), updatedAt: at });
        if (ENDED_STATES.includes(status!.state)) this.forget(row.id, row.run);
      } else if (status && !ENDED_STATES.includes(status.state)) {
        // Not the start's failure (its undo must not run): the workspace is as the stop or delete left it.
        await this.endUnrecordedRun(row).catch((err: unknown) => this.log.error({ workspaceId: row.id, run: row.run, err: err instanceof BackendError ? err.message : err }, 'ending a run of a workspace stopped or deleted while it started failed'));
      }
      if (!this.backend.onStateChange) await this.refreshStatus(row);
    } catch (err) {
      this.forget(row.id, row.run);
      this.log.warn({ workspaceId: row.id, run: row.run, err: err instanceof BackendError ? err.message : err }, 'workspace start failed');
      await undo();
      throw backendUnavailable(err, 'workspace');
    }
  }

  /**
   * The run came up, but its workspace was stopped or deleted while it started (a stop before
   * the backend knew the run could not end it): it must not go on unseen, holding values that
   * are refreshed and that nothing can stop. Ended, and, if the workspace is gone, its home too.
   */
  private async endUnrecordedRun(row: WorkspaceRow): Promise<void> {
    this.forget(row.id, row.run);
    await this.backend.stop(handleOf(row));
    const stored = await this.store.get(row.org, row.name);
    if (stored?.id === row.id) Object.assign(row, stored);
    else await this.backend.remove(row.org, row.id);
    this.log.info({ workspaceId: row.id, run: row.run }, 'a run of a workspace stopped or deleted while it started was ended');
  }

  async get(org: string, name: string, actor: WorkspaceActor): Promise<WorkspaceView> {
    const row = await this.load(org, name, actor, 'see');
    await this.refreshStatus(row);
    return this.view(row, actor);
  }

  async list(query: Omit<ListWorkspacesQuery, 'owner'>, actor: WorkspaceActor): Promise<{ views: WorkspaceView[]; next?: { createdAt: number; id: string } }> {
    const owner = actor.role === 'admin' ? undefined : actor.subject;
    const rows = await this.store.list({ ...query, owner, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    for (const row of page) await this.refreshStatus(row);
    const last = page[page.length - 1];
    return { views: await this.views(query.org, page, actor), next: rows.length > query.limit ? { createdAt: last.createdAt, id: last.id } : undefined };
  }

  async stop(org: string, name: string, actor: WorkspaceActor): Promise<WorkspaceView> {
    const row = await this.load(org, name, actor, 'see');
    await this.refreshStatus(row);
    if (!ended(row)) await this.stopRun(row, `stopped by ${actor.subject}`);
    return this.get(org, name, actor);
  }

  private async stopRun(row: WorkspaceRow, reason: string): Promise<void> {
    const key = runKey(row.id, row.run);
    this.stopReasons.set(key, reason);
    try {
      if (row.ref !== '') await this.backend.stop(handleOf(row));
      await this.record(handleOf(row), { state: 'STOPPED', message: reason, endTime: new Date(this.now()) });
    } catch (err) {
      throw backendUnavailable(err, 'workspace');
    } finally {
      this.stopReasons.delete(key);
    }
  }

  async start(org: string, name: string, actor: WorkspaceActor): Promise<{ view: WorkspaceView; warnings: string[] }> {
    const row = await this.load(org, name, actor, 'use');
    await this.refreshStatus(row);
    if (!ended(row)) throw failedPrecondition(`workspace "${name}" is already ${row.state === 'RUNNING' ? 'running' : 'starting'}`, 'WORKSPACE_RUNNING');
    const run = row.run + 1;
    const runner = { id: row.id, run };
    const prepared = await this.handout.prepare(org, runner, row, actor);
    await this.handout.afterHandOut(
      org,
      runner,
      actor,
      async () => {
        if (!(await this.store.beginRun(row.id, run, prepared.injected, this.now()))) throw aborted(`workspace "${name}" was started, stopped or deleted concurrently; look at it and retry`);
        Object.assign(row, { run, state: 'STARTING', ref: '', startTime: undefined, endTime: undefined, exitCode: undefined, message: '' });
        await this.startRun(row, prepared, () => this.store.updateStatus(row.id, run, { state: 'FAILED', message: 'it could not be started', endTime: new Date(this.now()) }, this.now()));
      },
      prepared.injected.length > 0,
    );
    return { view: await this.view(row, actor), warnings: [...prepared.warnings, ...(this.backend.warnings ?? [])] };
  }

  async delete(org: string, name: string, actor: WorkspaceActor): Promise<void> {
    const row = await this.load(org, name, actor, 'see');
    await this.refreshStatus(row);
    if (!ended(row)) await this.stopRun(row, `deleted by ${actor.subject}`);
    try {
      await this.backend.remove(org, row.id);
    } catch (err) {
      throw backendUnavailable(err, 'workspace');
    }
    await this.store.remove(row.id);
  }

  /**
   * Runs a command in the owner's running workspace. Returns the process and the values its
   * output must be masked with (those the run holds).
   */
  async exec(org: string, name: string, request: ExecRequest, actor: WorkspaceActor): Promise<{ process: ExecProcess; values: MaskValues }> {
    const row = await this.load(org, name, actor, 'use');
    await this.refreshStatus(row);
    if (row.state !== 'RUNNING') {
      const how = row.state === 'STARTING' ? 'is still starting; retry in a moment' : `is ${row.state.toLowerCase()}: start it first (vesslctl workspace start ${name})`;
      throw failedPrecondition(`workspace "${name}" ${how}`, 'WORKSPACE_NOT_RUNNING');
    }
    try {
      const process = await this.backend.exec(handleOf(row), request);
      return { process, values: this.live.get(row.id)?.values ?? new RunValues() };
    } catch (err) {
      throw backendUnavailable(err, 'workspace');
    }
  }

  /** Asks the backend about a run that has not ended, and records what changed. */
  private async refreshStatus(row: WorkspaceRow): Promise<void> {
    if (ended(row) || row.ref === '') return;
    try {
      const st = await this.backend.status(handleOf(row));
      if (st.state === row.state) return;
      if (await this.record(handleOf(row), st)) {
        Object.assign(row, { state: st.state, exitCode: st.exitCode ?? row.exitCode, message: st.message ?? row.message, endTime: st.endTime?.getTime() ?? row.endTime });
      }
    } catch (err) {
      this.log.warn({ workspaceId: row.id, run: row.run, err: err instanceof BackendError ? err.message : err }, 'workspace status refresh failed');
    }
  }

  private async view(row: WorkspaceRow, actor: Actor): Promise<WorkspaceView> {
    return (await this.views(row.org, [row], actor))[0];
  }

  /** Attaches the secrets' current versions, so that stale variables show as such. */
  private async views(org: string, rows: WorkspaceRow[], actor: Actor): Promise<WorkspaceView[]> {
    const secrets = await this.store.secretsOf(rows.map((r) => r.id));
    const uids = [...new Set([...secrets.values()].flat().map((s) => s.secretUid))];
    const current = new Map((uids.length ? await this.secrets.versions(org, uids, actor.requestId) : []).map((v) => [v.uid, v]));
    return rows.map((workspace) => ({
      workspace,
      secrets: (secrets.get(workspace.id) ?? []).map((s) => {
        const now = current.get(s.secretUid);
        const currentVersion = now && !now.deleted ? now.version : 0;
        return { ...s, currentVersion, stale: s.envName !== '' && currentVersion !== s.version };
      }),
    }));
  }

  /** Workspaces by state across all orgs, for metrics. */
  countByState(): Promise<Map<string, number>> {
    return this.store.countByState();
  }

  /**
   * After a restart of this service: brings runs left unfinished up to date with the backend
   * (a local run ended with the server that ran it). A run the backend still has (Kubernetes)
   * is kept, and its files refreshed from now on; what its exec prints is masked with the values
   * handed out from then on only (the old ones were not kept anywhere).
   */
  async reconcile(): Promise<void> {
    for (const row of await this.store.unfinished()) {
      if (row.ref === '') {
        await this.store.updateStatus(row.id, row.run, { state: 'FAILED', message: 'the server restarted while it was starting', endTime: new Date(this.now()) }, this.now());
        continue;
      }
      await this.refreshStatus(row);
      if (ended(row)) continue;
      const files = (await this.store.secretsOf([row.id])).get(row.id) ?? [];
      this.live.set(row.id, liveRunOf(row, files, []));
    }
  }

  /** Starts keeping running workspaces' files current (every refreshIntervalMs). */
  startRefreshing(): void {
    const interval = this.options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    const tick = () => {
      this.refreshing = this.refreshFiles()
        .catch((err: unknown) => this.log.error({ err }, 'refreshing workspace files failed'))
        .finally(() => {
          this.refreshing = undefined;
          if (this.timer) this.timer = setTimeout(tick, interval);
        });
    };
    this.timer = setTimeout(tick, interval);
  }

  /**
   * One pass: for every live run with files, the current versions of their secrets (one call
   * per org); a rotated secret's file is rewritten, a deleted one's removed.
   */
  async refreshFiles(): Promise<void> {
    const byOrg = new Map<string, LiveRun[]>();
    for (const live of this.live.values()) {
      // A run being stopped gets no new value (and could not take it).
      if (this.stopReasons.has(runKey(live.handle.workspaceId, live.handle.run))) continue;
      if ([...live.files.values()].some((f) => !f.removed)) byOrg.set(live.handle.org, [...(byOrg.get(live.handle.org) ?? []), live]);
    }
    // One org's or one run's failure (a secret-store error, a run that ends meanwhile) must not
    // hold back the others' rotations and removals: each is tried again at the next pass.
    for (const [org, runs] of byOrg) {
      await this.refreshOrg(org, runs).catch((err: unknown) => this.log.warn({ org, err }, 'refreshing an org\'s workspace files failed'));
    }
  }

  private async refreshOrg(org: string, runs: LiveRun[]): Promise<void> {
    const requestId = randomUUID();
    const uids = [...new Set(runs.flatMap((r) => [...r.files.values()].filter((f) => !f.removed).map((f) => f.secretUid)))];
    const versions = new Map((await this.secrets.versions(org, uids, requestId)).map((v) => [v.uid, v]));
    for (const live of runs) {
      await this.refreshRun(live, versions, requestId).catch((err: unknown) =>
        this.log.warn({ workspaceId: live.handle.workspaceId, run: live.handle.run, err: err instanceof BackendError ? err.message : err }, 'refreshing a workspace\'s files failed'),
      );
    }
  }

  private async refreshRun(live: LiveRun, versions: Map<string, { version: number; deleted: boolean }>, requestId: string): Promise<void> {
    for (const [path, file] of live.files) {
      if (file.removed) continue;
      const now = versions.get(file.secretUid);
      if (!now || now.deleted) await this.removeFile(live, path, file, requestId);
      else if (now.version !== file.version) await this.rewriteFile(live, path, file, requestId);
    }
  }

  private stillLive(live: LiveRun): boolean {
    return this.live.get(live.handle.workspaceId) === live;
  }

  private async rewriteFile(live: LiveRun, path: string, file: LiveFile, requestId: string): Promise<void> {
    const runner = { id: live.handle.workspaceId, run: live.handle.run };
    let entry: SecretFileEntry | undefined;
    try {
      entry = await this.handout.refreshFile(live.handle.org, runner, { secretName: file.secretName, filePath: path }, { subject: live.owner, requestId });
    } catch (err) {
      // Deleted between the version lookup and the hand-out: removed at this pass.
      if (err instanceof ApiError && err.code === grpcStatus.NOT_FOUND) return this.removeFile(live, path, file, requestId);
      throw err;
    }
    if (!entry || !this.stillLive(live)) {
      entry?.value.fill(0);
      return;
    }
    // Masked before any process of the run can read it.
    live.values.add(entry.value);
    await this.backend.writeFile(live.handle, entry);
    file.version = entry.version;
    await this.store.updateFile(live.handle.workspaceId, live.handle.run, path, { version: entry.version, at: this.now() });
    this.log.info({ workspaceId: live.handle.workspaceId, run: live.handle.run, secret: file.secretName, version: entry.version }, 'workspace file refreshed');
  }

  private async removeFile(live: LiveRun, path: string, file: LiveFile, requestId: string): Promise<void> {
    if (!this.stillLive(live)) return;
    await this.backend.removeFile(live.handle, path);
    file.removed = true;
    await this.store.updateFile(live.handle.workspaceId, live.handle.run, path, { removed: true, at: this.now() });
    const details = { workspace: live.handle.workspaceId, run: String(live.handle.run), secret: file.secretName, as: `file ${path}` };
    await this.secrets.recordEvent(live.handle.org, { actor: live.owner, action: 'workspace.file_removed', details }, requestId);
  }

  /** Stops refreshing and ends every run the backend ends with the server. */
  async close(): Promise<void> {
    const timer = this.timer;
    this.timer = undefined;
    clearTimeout(timer);
    await this.refreshing;
    await this.backend.close();
    for (const live of [...this.live.values()]) this.forget(live.handle.workspaceId, live.handle.run);
  }
}

function nameTaken(org: string, name: string): ApiError {
  return alreadyExists(`workspace "${name}" already exists in org "${org}"; pick another name or delete it first`);
}
