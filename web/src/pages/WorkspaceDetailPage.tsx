import { useCallback, useEffect, useRef, useState } from 'react';
import { workspacesApi, type Workspace } from '../api';
import { ConfirmButtons, Dialog } from '../dialog';
import type { Identity } from '../identity';
import { ErrorMessage, exactTime, navigate, plainError, RelativeTime, StateBadge, usePageTitle } from '../ui';
import { setDeletedNotice } from './WorkspacesPage';

/** While it starts, its state changes soon; while it runs, its files are refreshed on rotation. */
const POLL_STARTING_MS = 1000;
const POLL_RUNNING_MS = 3000;
const pollInterval = (state: string | undefined) => (state === 'STATE_STARTING' ? POLL_STARTING_MS : state === 'STATE_RUNNING' ? POLL_RUNNING_MS : undefined);

type Held = NonNullable<Workspace['injected']>[number];
type Confirm = 'stop' | 'start' | 'delete' | undefined;

/** What the server said when it created the workspace (e.g. a plain variable replacing a secret); shown once. */
let createWarnings: string[] = [];
export function setCreateWarnings(warnings: string[]): void {
  createWarnings = warnings;
}

export function WorkspaceDetailPage({ identity, name }: { identity: Identity; name: string }) {
  const { org } = identity;
  usePageTitle(`Workspace ${name}`);
  const [workspace, setWorkspace] = useState<Workspace>();
  const [warnings, setWarnings] = useState(() => createWarnings);
  useEffect(() => {
    createWarnings = [];
  }, []);
  const [error, setError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [confirm, setConfirm] = useState<Confirm>();
  // Bumped by Stop/Start: polling starts over and follows the workspace's new state.
  const [polling, setPolling] = useState(0);

  const load = useCallback(async () => {
    try {
      const current = await workspacesApi.getWorkspace({ org, name });
      setWorkspace(current);
      setError(undefined);
      return current;
    } catch (err) {
      setError(err);
      return undefined;
    }
  }, [org, name]);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      const current = await load();
      const wait = pollInterval(current?.state);
      if (!stopped && wait !== undefined) timer = setTimeout(tick, wait);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [load, polling]);

  const act = async (action: () => Promise<unknown>, after?: () => void) => {
    setActionError(undefined);
    try {
      await action();
      if (after) after();
      else setPolling((n) => n + 1);
    } catch (err) {
      setActionError(err);
    } finally {
      setConfirm(undefined);
    }
  };

  if (!workspace) {
    return (
      <section>
        <h1 tabIndex={-1}>Workspace {name}</h1>
        <ErrorMessage error={error} />
      </section>
    );
  }
  const up = workspace.state === 'STATE_RUNNING' || workspace.state === 'STATE_STARTING';
  const own = workspace.createBy === identity.subject;
  const held = workspace.injected ?? [];
  const rotated = held.filter((s) => s.stale);
  const close = () => setConfirm(undefined);
  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>
          {workspace.name} <StateBadge state={workspace.state} />
        </h1>
        <div className="buttons">
          {up && (
            <button type="button" className="secondary" onClick={() => setConfirm('stop')}>
              Stop
            </button>
          )}
          {/* Only its owner may start it (an admin may stop and delete anyone's). */}
          {!up && own && (
            <button type="button" onClick={() => setConfirm('start')}>
              Start
            </button>
          )}
          <button type="button" className="danger" onClick={() => setConfirm('delete')}>
            Delete
          </button>
        </div>
      </header>
      {confirm === 'stop' && (
        <Dialog title={`Stop ${workspace.name}?`} onClose={close}>
          <p>Its processes end now, and open terminals close. Its files stay for the next start, when variables get the secrets' current values.</p>
          <ConfirmButtons label="Stop workspace" onConfirm={() => act(() => workspacesApi.stopWorkspace({ org, name }))} onCancel={close} />
        </Dialog>
      )}
      {confirm === 'start' && (
        <Dialog title={`Start ${workspace.name}?`} onClose={close}>
          <p>Run {(workspace.run ?? 0) + 1} starts with the current value of each secret.</p>
          <ConfirmButtons label="Start workspace" onConfirm={() => act(() => workspacesApi.startWorkspace({ org, name }).then((r) => setWarnings(r.warnings ?? [])))} onCancel={close} />
        </Dialog>
      )}
      {confirm === 'delete' && (
        <Dialog title={`Delete ${workspace.name}?`} onClose={close} danger>
          <p>{up ? 'It is stopped, then removed' : 'It is removed'} with its files, and its name is free again. This cannot be undone.</p>
          <ConfirmButtons
            label="Delete workspace"
            danger
            onConfirm={() =>
              act(
                () => workspacesApi.deleteWorkspace({ org, name }),
                () => {
                  setDeletedNotice(name);
                  navigate('/workspaces');
                },
              )
            }
            onCancel={close}
          />
        </Dialog>
      )}
      {actionError ? (
        <div className="error" role="alert">
          {plainError(actionError)}
        </div>
      ) : (
        <ErrorMessage error={error} />
      )}
      {warnings.map((w) => (
        <p key={w} className="warning" role="status">
          {w}
        </p>
      ))}
      {up && rotated.length > 0 && (
        <div className="warning stale-note" role="status">
          A secret this run holds as a variable was rotated or deleted since it started ({rotated.map((s) => s.secretName).join(', ')}). Stop and start the workspace to give it the current values.
        </div>
      )}
      <Connect workspace={workspace} own={own} />
      <dl className="facts">
        <dt>State</dt>
        <dd>
          <StateBadge state={workspace.state} />
          {workspace.message ? ` ${workspace.message}` : ''}
        </dd>
        <dt>Run</dt>
        <dd data-testid="run">{workspace.run ?? 0}</dd>
        <dt>Started</dt>
        <dd>
          <RelativeTime time={workspace.startTime} />
        </dd>
        {workspace.endTime && (
          <>
            <dt>Ended</dt>
            <dd>
              <RelativeTime time={workspace.endTime} />
            </dd>
          </>
        )}
        <dt>Image</dt>
        <dd>{workspace.image}</dd>
        <dt>Command</dt>
        <dd>{workspace.command ? <code>{workspace.command}</code> : 'none: it idles until stopped'}</dd>
        <dt>Environment</dt>
        <dd>{(workspace.env ?? []).map((e) => e.name).join(', ') || 'none'}</dd>
        <dt>Owner</dt>
        <dd>
          {workspace.createBy}, created <RelativeTime time={workspace.createTime} /> ({workspace.backend})
        </dd>
        <dt>ID</dt>
        <dd>{workspace.id}</dd>
      </dl>
      <h2>Secrets of run {workspace.run ?? 0}</h2>
      {held.length === 0 ? (
        <p className="hint">{(workspace.secrets ?? []).length === 0 ? 'It was given no secrets.' : 'This run holds none of its secrets yet.'}</p>
      ) : (
        <ul className="held-secrets">
          {held.map((s) => (
            <HeldSecret key={`${s.secretUid}-${s.envName}-${s.filePath}`} secret={s} />
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * One secret the run holds. A variable: `KEY ← NAME vN`, stale once the secret is rotated or
 * deleted (the variable keeps its value until a restart). A file: `PATH ← NAME vN`, rewritten
 * in place on rotation (when is shown), or removed when the secret is deleted.
 */
function HeldSecret({ secret: s }: { secret: Held }) {
  const current = Number(s.currentVersion ?? 0);
  const file = Boolean(s.filePath);
  return (
    <li data-held={s.secretName} data-file={s.filePath || undefined} data-env={s.envName || undefined} className={s.stale || s.removed ? 'stale' : undefined}>
      <code>{file ? s.filePath : s.envName}</code> ← {s.secretName} v{s.version}
      {file && !s.removed && s.refreshTime && (
        <span className="hint">
          {' '}
          refreshed at <time dateTime={s.refreshTime}>{exactTime(s.refreshTime)}</time>
        </span>
      )}
      {file && s.removed && <Mark text="removed (secret deleted)" />}
      {!file && s.stale && <Mark text={current === 0 ? 'stale: secret deleted since' : `stale: restart to refresh (now v${current})`} />}
    </li>
  );
}

/** A held secret's warning, a word apart from its line. */
function Mark({ text }: { text: string }) {
  return (
    <>
      {' '}
      <span className="badge stale">{text}</span>
    </>
  );
}

/** How to open a terminal in it: the vesslctl command, with a copy button. Only its owner may. */
function Connect({ workspace, own }: { workspace: Workspace; own: boolean }) {
  const [copied, setCopied] = useState('');
  const code = useRef<HTMLElement>(null);
  if (!own) {
    return (
      <p className="hint connect">
        Only its owner, {workspace.createBy}, can open a terminal in it.
      </p>
    );
  }
  const command = workspace.shellCommand || `vesslctl workspace shell ${workspace.name}`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied('Copied the command.');
    } catch {
      // No clipboard (an insecure origin, or refused): select the text for Ctrl+C instead.
      const selection = window.getSelection();
      if (code.current && selection) selection.selectAllChildren(code.current);
      setCopied('The browser did not allow copying: the command is selected, press Ctrl+C.');
    }
  };
  return (
    <div className="connect panel wide">
      <h2>Connect</h2>
      <p className="hint">Open a terminal in it from your machine{workspace.state === 'STATE_RUNNING' ? '' : ', once it runs'}:</p>
      <div className="command-line">
        <code ref={code} data-testid="shell-command">
          {command}
        </code>
        <button type="button" className="small secondary" aria-label="Copy the connect command" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p role="status" className="notice">
        {copied}
      </p>
    </div>
  );
}
