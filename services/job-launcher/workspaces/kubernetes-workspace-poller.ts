/**
 * onStateChange for the Kubernetes workspace backend: the runs it knows of (started here, or
 * asked about through status()) are read every interval, and a change of state is reported once.
 * A poll of named pods rather than a watch: the job launcher's role has no watch or list on
 * pods beyond its own label queries, and a few reads per interval are cheap. A run leaves the
 * set when it ends (STOPPED, FAILED) or is stopped through the backend. After a restart of the
 * launcher the set is empty until the manager asks about its live runs (status()).
 */
import type { Logger } from '../../runtime/logger.js';
import type { WorkspaceHandle, WorkspaceState, WorkspaceStatus } from './workspace-backend.js';

export interface RunStatePoller {
  /** Follows this run from this state on (a run that has ended is dropped instead). */
  track(handle: WorkspaceHandle, status: WorkspaceStatus): void;
  forget(handle: WorkspaceHandle): void;
  listen(listener: (handle: WorkspaceHandle, status: WorkspaceStatus) => void): void;
  close(): void;
}

const ENDED: readonly WorkspaceState[] = ['STOPPED', 'FAILED'];

const keyOf = (h: WorkspaceHandle) => `${h.org}/${h.workspaceId}/${h.run}`;

export function pollRunStates(opts: { status: (handle: WorkspaceHandle) => Promise<WorkspaceStatus>; intervalMs: number; log?: Logger }): RunStatePoller {
  const runs = new Map<string, { handle: WorkspaceHandle; state: WorkspaceState }>();
  const listeners: ((handle: WorkspaceHandle, status: WorkspaceStatus) => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function track(handle: WorkspaceHandle, status: WorkspaceStatus): void {
    if (ENDED.includes(status.state)) runs.delete(keyOf(handle));
    else runs.set(keyOf(handle), { handle, state: status.state });
  }

  async function checkOne(key: string, run: { handle: WorkspaceHandle; state: WorkspaceState }): Promise<void> {
    let current: WorkspaceStatus;
    try {
      current = await opts.status(run.handle);
    } catch (err) {
      opts.log?.warn({ workspaceId: run.handle.workspaceId, run: run.handle.run, err: err instanceof Error ? err.name : 'error' }, 'Kubernetes: could not check a workspace run; retrying at the next poll');
      return;
    }
    // stop() or a newer status() may have changed the entry while this read was in flight.
    if (runs.get(key) !== run || current.state === run.state) return;
    track(run.handle, current);
    for (const listener of listeners) listener(run.handle, current);
  }

  async function tick(): Promise<void> {
    await Promise.all([...runs].map(([key, run]) => checkOne(key, run)));
    if (!closed) timer = setTimeout(() => void tick(), opts.intervalMs).unref();
  }

  return {
    track,
    forget: (handle) => runs.delete(keyOf(handle)),
    listen(listener) {
      listeners.push(listener);
      if (timer === undefined && !closed) timer = setTimeout(() => void tick(), opts.intervalMs).unref();
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
