import { rmSync } from 'node:fs';
import { defaultWorkspaceFilesRoot, defaultWorkspaceHomeRoot } from '../../services/job-launcher/workspaces/local-workspaces.js';

/**
 * Removes what the local workspace backend keeps outside a data dir (the workspaces' homes, and
 * secret files a killed server left on /dev/shm), for a test's data dir that goes away: a server
 * keeps homes between its runs, but a test's data dir never runs again.
 */
export function removeWorkspaceRoots(dataDir: string): void {
  for (const root of [defaultWorkspaceHomeRoot(dataDir), defaultWorkspaceFilesRoot(dataDir)]) rmSync(root, { recursive: true, force: true });
}
