import { Workspace_State, WorkspaceServiceService, type Workspace } from '../../gen/vessl/jobs/v1/workspaces.js';
import { requireOrgRole, type TokenVerifier } from '../../runtime/auth.js';
import type { DenialAudit } from '../../runtime/denial-audit.js';
import { invalidArgument } from '../../runtime/errors.js';
import { implementService, type CallContext, type CallTracker, type RegisteredService } from '../../runtime/grpc-server.js';
import type { Logger } from '../../runtime/logger.js';
import { decodePageToken, encodePageToken } from '../../runtime/page-token.js';
import { Violations } from '../../runtime/validation.js';
import { NAME_PATTERN } from '../../secret-store/rules.js';
import { LogStreamLimits } from '../log-stream-limits.js';
import type { WorkspaceActor, WorkspaceManager, WorkspaceView } from './domain.js';
import { execSession } from './exec-session.js';
import { runInputOf } from '../rules.js';
import { date, injectedSecretMessage, runInputMessage } from '../server.js';
import { checkExecInput, checkWorkspaceInput, checkWorkspaceName } from './rules.js';
import type { WorkspaceState } from './workspace-backend.js';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
/** Exec sessions (shells) one principal may have open at once: each holds processes and a terminal. */
export const DEFAULT_EXEC_SESSIONS_PER_PRINCIPAL = 16;

const STATE_TO_PROTO: Record<WorkspaceState, Workspace_State> = {
  STARTING: Workspace_State.STATE_STARTING,
  RUNNING: Workspace_State.STATE_RUNNING,
  STOPPED: Workspace_State.STATE_STOPPED,
  FAILED: Workspace_State.STATE_FAILED,
};

/** The command that opens a terminal in a workspace, as the CLI spells it. */
export const shellCommand = (name: string) => `vesslctl workspace shell ${name}`;

/** Explicit mapper from the stored workspace and its run's secrets to the API message. */
export function toWorkspaceMessage(view: WorkspaceView): Workspace {
  const { workspace: w } = view;
  return {
    org: w.org,
    id: w.id,
    name: w.name,
    image: w.image,
    command: w.command,
    ...runInputMessage(w),
    state: STATE_TO_PROTO[w.state],
    backend: w.backend,
    createTime: new Date(w.createdAt),
    updateTime: new Date(w.updatedAt),
    createBy: w.createdBy,
    run: w.run,
    startTime: date(w.startTime),
    endTime: date(w.endTime),
    message: w.message,
    injected: view.secrets.map((s) => ({ ...injectedSecretMessage(s), refreshTime: date(s.refreshedAt), removed: s.removed })),
    shellCommand: shellCommand(w.name),
  };
}

const ROLES = ['admin', 'member'] as const;

/** Admins and members only (requireOrgRole has checked), so the role is one of the two. */
const actorOf = (ctx: CallContext): WorkspaceActor => ({ subject: ctx.principal.subject, requestId: ctx.requestId, role: ctx.principal.role });

function checkName(name: string): void {
  const v = new Violations();
  checkWorkspaceName(v, name);
  v.throwIfAny();
}

export function workspaceService(deps: {
  workspaces: WorkspaceManager;
  denials: DenialAudit;
  verifier: TokenVerifier;
  log: Logger;
  tracker?: CallTracker;
  execSessions?: LogStreamLimits;
}): RegisteredService {
  const { workspaces } = deps;
  const execSessions = deps.execSessions ?? new LogStreamLimits(DEFAULT_EXEC_SESSIONS_PER_PRINCIPAL, { noun: 'workspace exec sessions', reason: 'EXEC_SESSIONS_EXHAUSTED' });
  deps.tracker?.metrics.gaugeFromSource({ name: 'vessl_workspaces', help: 'Workspaces by state, all orgs', label: 'state', read: () => workspaces.countByState() });
  const implementation = implementService(
    WorkspaceServiceService,
    {
      async createWorkspace(req, ctx) {
        requireOrgRole(ctx.principal, req.org, ROLES, 'create workspaces');
        const input = runInputOf(req.workspace);
        const v = new Violations();
        checkWorkspaceInput(v, input, workspaces.secretFileRoots);
        v.throwIfAny();
        const { view, warnings } = await workspaces.create(req.org, input, actorOf(ctx));
        return { workspace: toWorkspaceMessage(view), warnings };
      },
      async getWorkspace(req, ctx) {
        requireOrgRole(ctx.principal, req.org, ROLES, 'read workspaces');
        checkName(req.name);
        return toWorkspaceMessage(await workspaces.get(req.org, req.name, actorOf(ctx)));
      },
      async listWorkspaces(req, ctx) {
        requireOrgRole(ctx.principal, req.org, ROLES, 'list workspaces');
        new Violations()
          .check(req.pageSize >= 0, 'page_size', 'must not be negative')
          .check(req.secretName === '' || NAME_PATTERN.test(req.secretName), 'secret_name', 'is not a secret name')
          .throwIfAny();
        // A page token is bound to its listing, and a member's listing is their own.
        const listing = { org: req.org, secretName: req.secretName, owner: ctx.principal.role === 'admin' ? '' : ctx.principal.subject };
        const after = req.pageToken
          ? decodePageToken<{ createdAt: number; id: string }>(req.pageToken, listing, (p) => typeof p.createdAt === 'number' && typeof p.id === 'string', 'ListWorkspaces')
          : undefined;
        const limit = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
        const page = await workspaces.list({ org: req.org, limit, after, secretName: req.secretName || undefined }, actorOf(ctx));
        return { workspaces: page.views.map(toWorkspaceMessage), nextPageToken: page.next ? encodePageToken(listing, page.next) : '' };
      },
      async stopWorkspace(req, ctx) {
        requireOrgRole(ctx.principal, req.org, ROLES, 'stop workspaces');
        checkName(req.name);
        return toWorkspaceMessage(await workspaces.stop(req.org, req.name, actorOf(ctx)));
      },
      async startWorkspace(req, ctx) {
        requireOrgRole(ctx.principal, req.org, ROLES, 'start workspaces');
        checkName(req.name);
        const { view, warnings } = await workspaces.start(req.org, req.name, actorOf(ctx));
        return { workspace: toWorkspaceMessage(view), warnings };
      },
      async deleteWorkspace(req, ctx) {
        requireOrgRole(ctx.principal, req.org, ROLES, 'delete workspaces');
        checkName(req.name);
        await workspaces.delete(req.org, req.name, actorOf(ctx));
        return {};
      },
      async *execWorkspace(requests, ctx) {
        const iterator = requests[Symbol.asyncIterator]();
        const first = await iterator.next();
        if (first.done || first.value.kind?.$case !== 'start') {
          throw invalidArgument('start', 'the first message must be start (the org, the workspace and the command)');
        }
        const start = first.value.kind.value;
        requireOrgRole(ctx.principal, start.org, ROLES, 'run commands in workspaces');
        const exec = { command: start.command, tty: start.tty, size: start.tty ? (start.size ?? { rows: 24, cols: 80 }) : undefined };
        const v = new Violations();
        checkWorkspaceName(v, start.name, 'start.name');
        checkExecInput(v, exec, 'start');
        v.check(start.tty || start.size === undefined, 'start.size', 'is only for a command with a terminal (tty)');
        v.throwIfAny();
        // Held from here until the session ends, however it ends.
        const slot = execSessions.acquire(ctx.principal);
        try {
          const opened = await workspaces.exec(start.org, start.name, exec, actorOf(ctx));
          // The command's words are the caller's input (they may hold anything): only their count is logged.
          ctx.log.info({ workspace: start.name, tty: start.tty, args: start.command.length }, 'exec started');
          yield* execSession(iterator, opened, start.tty, ctx.log, ctx.gone);
        } finally {
          slot.release();
        }
      },
    },
    { verifier: deps.verifier, log: deps.log, hooks: deps.denials.hooks, tracker: deps.tracker },
  );
  return { definition: WorkspaceServiceService, implementation, name: 'vessl.jobs.v1.WorkspaceService' };
}
