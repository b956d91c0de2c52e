// Human-readable rendering for the workspace commands (and `secret show`'s "used by").
// Light on purpose: command modules load at start-up, so this imports no grpc-js.
import { formatDuration, formatFields, formatTable, formatTime, truncateCell } from './output.js';
import type { WorkspaceJson, WorkspaceSecretJson } from './workspaces-api.js';

/** How to open a terminal in a workspace: the server's words, else ours. */
export const shellCommandOf = (w: WorkspaceJson) => w.shellCommand || `vesslctl workspace shell ${w.name}`;

/**
 * One secret of a run, as `workspace show` reports it:
 * "env HF_TOKEN ← HF_TOKEN v1 (stale: restart to refresh; current v2)",
 * "file /run/secrets/key.pem ← tls-key v2, refreshed at 2026-01-02T03:04:05Z",
 * "file /run/secrets/key.pem ← tls-key v2, removed (secret deleted)".
 */
export function workspaceSecretLine(s: WorkspaceSecretJson): string {
  if (s.filePath) {
    const line = `file ${s.filePath} ← ${s.secretName} v${s.version}`;
    if (s.removed) return `${line}, removed (secret deleted)`;
    return s.refreshTime ? `${line}, refreshed at ${formatTime(s.refreshTime)}` : line;
  }
  const line = `env ${s.envName} ← ${s.secretName} v${s.version}`;
  if (!s.stale) return line;
  return `${line} (stale: restart to refresh; ${s.currentVersion ? `current v${s.currentVersion}` : 'secret deleted'})`;
}

/** The few lines create, start and stop print about a workspace. */
export function workspaceSummary(w: WorkspaceJson): string {
  return formatFields([
    ['name', w.name],
    ['id', w.id],
    ['state', w.message && w.state !== 'running' ? `${w.state} (${w.message})` : w.state],
    ['backend', w.backend],
    ['run', w.run || undefined],
    ['secrets', w.injected.map(workspaceSecretLine)],
  ]);
}

/** `workspace show`: the workspace, its current (or last) run, and the secrets that run holds. */
export function workspaceDetails(w: WorkspaceJson): string {
  const by = (time: string | null, who: string) => (time ? `${formatTime(time)}${who ? ` by ${who}` : ''}` : undefined);
  const took = w.startTime && w.endTime ? ` (ran ${formatDuration(Date.parse(w.endTime) - Date.parse(w.startTime))})` : '';
  return formatFields([
    ['name', w.name],
    ['id', w.id],
    ['org', w.org],
    ['state', w.state],
    ['message', w.message],
    ['backend', w.backend],
    ['image', w.image],
    ['command', w.command ? w.command.split(/\r?\n/) : undefined],
    ['env', w.env.map((e) => `${e.name}=${e.value}`)],
    ['created', by(w.createTime, w.createBy)],
    ['run', w.run ? `${w.run}${w.startTime ? `, started ${formatTime(w.startTime)}` : ''}${w.endTime ? `, ended ${formatTime(w.endTime)}${took}` : ''}` : undefined],
    ['secrets', w.injected.map(workspaceSecretLine)],
    ['shell', w.state === 'running' ? shellCommandOf(w) : undefined],
  ]);
}

/** "5m", "3h", "2d": how long ago the workspace was created (as kubectl's AGE column). */
const ageOf = (iso: string | null, now: number) => (iso ? formatDuration(Math.max(0, now - Date.parse(iso)), 1) : '');

/** The secret names a workspace asked for, once each. */
const secretNamesOf = (w: WorkspaceJson) => [...new Set(w.secrets.map((s) => s.secretName))].join(',');

/** `workspace list`: one row per workspace. */
export function workspaceTable(workspaces: WorkspaceJson[], now = Date.now()): string {
  return formatTable(
    ['NAME', 'STATE', 'OWNER', 'SECRETS', 'AGE'],
    workspaces.map((w) => [w.name, w.state, w.createBy, truncateCell(secretNamesOf(w), 40) || '-', ageOf(w.createTime, now)]),
  );
}
